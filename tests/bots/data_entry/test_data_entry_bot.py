"""The data-entry bot end to end: real headless Chromium typing into the fixture ERP, real store."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from backoffice import audit
from backoffice.audit import evidence_path
from backoffice.browser import launch_options
from backoffice.errors import ConfigError, InputError, TargetDown
from backoffice.queue import Queue
from backoffice.runner import reprocess, run_bot
from backoffice.testing import done, open_store, queued
from bots.data_entry.bot import bot
from connectors.web import LoginFailed
from fixtures.data_entry.generate import HEADERS, make_rows, write_workbook
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, start_in_thread

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[3]
SYSTEM_KIND = "system"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    try:
        launch_options()
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ERP_USER", DEFAULT_USER)
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", DEFAULT_PASSWORD)


@pytest.fixture
def store(tmp_path, monkeypatch, creds):
    from backoffice.settings import reset_settings
    from backoffice.store import Store

    s = open_store(tmp_path / "home", monkeypatch, retries="3", retry_backoff_seconds="0.02")
    yield s
    Store.close_all()
    reset_settings()


@pytest.fixture
def erp(tmp_path):
    server = start_in_thread(tmp_path / "erp.db", seed=20)
    yield server
    server.stop()


def inputs(path: Path, erp, **extra) -> dict:
    return {"input": str(path), "target": erp.url, "timeout_ms": 3000, **extra}


def refs(erp) -> Counter:
    return Counter(r["external_ref"] for r in erp.db.invoices())


def test_happy_path_enters_every_row_once_with_evidence(store, erp, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    f = write_workbook(tmp_path / "in.xlsx", make_rows(8))
    s = run_bot(bot, inputs(f, erp), store=store)
    assert DEFAULT_PASSWORD not in caplog.text
    assert (s.total, s.done, s.queued, s.system) == (8, 8, 0, 0)
    saved = {r["external_ref"]: r for r in erp.db.invoices()}
    finished = done(store, "data-entry")
    assert len(saved) == 8 and {it.row["key"] for it in finished} == set(saved)
    for it in finished:
        row, result = saved[it.row["key"]], it.row["result"]
        assert result["target_id"] == row["id"] and result["existed"] is False
        assert row["gross_amount"] == it.row["payload"]["gross_amount"]
        [ev] = it.row["evidence"]
        png = evidence_path(store, ev["sha256"]).read_bytes()
        assert png.startswith(b"\x89PNG") and ev["media_type"] == "image/png"
    entered = audit.entries(store, action="invoice.entered")
    shas = {it.row["evidence"][0]["sha256"] for it in finished}
    assert len(entered) == 8 and {e["evidence"][0] for e in entered} == shas
    assert audit.verify(store).ok
    again = run_bot(bot, inputs(f, erp), store=store)
    assert again.skipped == 8 and len(erp.db.invoices()) == 8


def test_invalid_rows_are_queued_and_never_typed(store, erp, tmp_path) -> None:
    f = write_workbook(tmp_path / "in.xlsx", make_rows(14, invalid=True))
    s = run_bot(bot, inputs(f, erp), store=store)
    assert (s.total, s.done, s.queued) == (15, 8, 7)
    assert (
        s.codes["DE-TOTAL"] == s.codes["DE-VENDOR"] == s.codes["DE-VENDOR-BLOCKED"] == s.codes["DE-DATE"] == 1
    )
    assert s.codes["INPUT-DUPLICATE"] == 1 and s.codes["INPUT"] >= 2
    typed = {r["invoice_no"] for r in erp.db.invoices()}
    for it in queued(store, "data-entry"):
        assert it.row["kind"] == "business"
        assert it.row["payload"].get("invoice_no") not in typed or it.violations[0].code == "INPUT-DUPLICATE"
    assert len(erp.db.invoices()) == 8


def test_read_back_mismatch_is_a_business_exception_with_evidence(store, erp, tmp_path) -> None:
    erp.switch(truncate_description=6)
    rows = make_rows(3)
    rows[0][HEADERS.index("Description")] = "Toner"  # short enough to survive the truncation
    f = write_workbook(tmp_path / "in.xlsx", rows)
    s = run_bot(bot, inputs(f, erp), store=store)
    assert s.done == 1 and s.queued == 2
    assert len(erp.db.invoices()) == 3  # typed once each; the target changed what it kept
    for it in queued(store, "data-entry"):
        [v] = it.violations
        assert v.code == "DE-READBACK" and v.field == "description"
        assert v.expected == it.row["payload"]["description"] and v.actual == v.expected[:6].strip()
        assert it.row["evidence"][0]["media_type"] == "image/png"
    assert run_bot(bot, inputs(f, erp), store=store).skipped == 3 and len(erp.db.invoices()) == 3


def test_random_500s_every_row_entered_once_or_queued(tmp_path, monkeypatch, creds, erp) -> None:
    store = open_store(tmp_path / "home", monkeypatch, retries="5", retry_backoff_seconds="0.01")
    f = write_workbook(tmp_path / "in.xlsx", make_rows(30))
    erp.switch(fail_rate=0.2, seed=42)
    s = run_bot(bot, inputs(f, erp), store=store)
    stats = erp.stats()
    erp.switch(fail_rate=0)
    assert stats["failures"] > 0
    counts = refs(erp)
    assert counts, s.to_dict()
    assert max(counts.values()) == 1  # nothing typed twice
    finished = {it.row["key"] for it in done(store, "data-entry")}
    waiting = {it.row["key"]: it for it in queued(store, "data-entry")}
    assert len(finished) + len(waiting) == 30 == s.total
    assert finished <= set(counts)  # done means it is in the target
    for it in waiting.values():
        assert it.violations[0].code == "DE-SYSTEM" and it.row["kind"] == SYSTEM_KIND
        media = sorted(e["media_type"] for e in it.row["evidence"])
        assert media == ["image/png", "text/html"]
    retried = [it for it in done(store, "data-entry") if it.row["result"]["attempts"] > 1]
    assert retried, "with 20% failures some rows needed a retry"
    if stats["failures_after_save"]:  # saved, answered 500: the retry's search found it, typed nothing
        assert any(it.row["result"]["existed"] for it in retried)
    assert audit.verify(store).ok


def test_kill_midway_then_rerun_no_duplicates_nothing_lost(store, erp, tmp_path) -> None:
    f = write_workbook(tmp_path / "in.xlsx", make_rows(12))
    erp.switch(slow_ms=120)
    script = (
        "import json,sys; from backoffice.runner import run_bot; from bots.data_entry.bot import bot;"
        "run_bot(bot, json.loads(sys.argv[1]))"
    )
    env = {**os.environ, "BACKOFFICE_HOME": str(store.home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(inputs(f, erp))], env=env, cwd=REPO, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while len(erp.db.invoices()) < 4:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the bot, its Playwright driver and its Chromium
        proc.wait(timeout=30)
    erp.switch(slow_ms=0)
    before = len(erp.db.invoices())
    assert 4 <= before < 12
    s = run_bot(bot, inputs(f, erp), store=store)
    counts = refs(erp)
    assert len(counts) == 12 and max(counts.values()) == 1
    assert s.done == 12 and s.queued == s.system == 0
    existed = [it for it in done(store, "data-entry") if it.row["result"]["existed"]]
    assert len(existed) == before  # found by key, read back, not typed again
    assert audit.verify(store).ok


def test_corrected_row_from_the_queue_is_entered_on_reprocess(store, erp, tmp_path) -> None:
    from backoffice.users import add_user

    rows = make_rows(3)
    rows[1][HEADERS.index("Gross")] = rows[1][HEADERS.index("Gross")] + 1
    f = write_workbook(tmp_path / "in.xlsx", rows)
    s = run_bot(bot, inputs(f, erp), store=store)
    assert s.done == 2 and s.codes["DE-TOTAL"] == 1
    [it] = queued(store, "data-entry")
    add_user(store, "ann", "associate", password="ann-password")
    q = Queue(store)
    q.claim(it.row["id"], "ann")
    right = str(rows[1][HEADERS.index("Net")] + rows[1][HEADERS.index("Tax")])
    q.resolve(it.row["id"], "ann", "correct", "vendor confirmed the total", changes={"gross_amount": right})
    # a GBP invoice and the run has no GBP rate: the delegated limit cannot be checked, an approver confirms
    add_user(store, "carl", "approver")
    q.resolve(it.row["id"], "carl", "approve", "total checked against the PDF")
    r = reprocess(bot, store=store)
    assert r.done == 1 and q.get(it.row["id"]).status == "done"
    [row] = [x for x in erp.db.invoices() if x["external_ref"] == it.row["key"]]
    assert row["gross_amount"] == right
    assert len(erp.db.invoices()) == 3


def test_expired_sessions_are_renewed_while_typing(store, erp, tmp_path) -> None:
    erp.switch(session_max_requests=6)  # the login runs out every 6 pages, often mid-form
    f = write_workbook(tmp_path / "in.xlsx", make_rows(6))
    s = run_bot(bot, inputs(f, erp), store=store)
    assert s.done == 6 and max(refs(erp).values()) == 1 and len(refs(erp)) == 6
    assert erp.stats()["logins"] >= 4  # context look-up, batch login, and renewals


def test_changed_element_ids_are_found_by_their_labels(store, erp, tmp_path) -> None:
    erp.switch(changed_ids=True)  # a release renamed the ids; the mapping finds fields by label first
    f = write_workbook(tmp_path / "in.xlsx", make_rows(2))
    s = run_bot(bot, inputs(f, erp), store=store)
    assert s.done == 2 and len(erp.db.invoices()) == 2


def statuses(store) -> Counter:
    from sqlalchemy import select

    from backoffice.schema import items

    with store.read() as conn:
        return Counter(
            r.status for r in conn.execute(select(items.c.status).where(items.c.bot == "data-entry"))
        )


def incidents(store) -> list[dict]:
    return [e for e in audit.entries(store, action="run.incident")]


def test_missing_elements_fail_fast_and_the_breaker_stops_the_run(store, erp, tmp_path) -> None:
    """Ids and labels changed: nothing finds the invoice number. Before the breaker every row was
    tried 4 times with a 5 s timeout (10 rows: 248 s on this machine); now each row fails at once
    and after breaker_failures (5) in a row the run stops, with no per-row exception."""
    erp.switch(changed_ids=True, changed_labels=True)
    f = write_workbook(tmp_path / "in.xlsx", make_rows(10))
    started = time.monotonic()
    with pytest.raises(TargetDown, match="5 system failures in a row") as info:
        run_bot(bot, inputs(f, erp, timeout_ms=5000), store=store)
    took = time.monotonic() - started
    assert "invoice_no not found" in str(info.value) and "after 1 attempt(s)" in str(info.value)
    assert took < 90, f"{took:.0f} s"
    assert queued(store, "data-entry") == [] and statuses(store) == {"new": 10}
    assert len(erp.db.invoices()) == 0
    [incident] = incidents(store)
    assert incident["data"]["kind"] == "target-down" and incident["data"]["left_new"] == 10
    [html] = [
        e
        for e in incident["evidence"]
        if evidence_path(store, e).read_text(errors="ignore").lstrip().startswith("<")
    ]
    assert 'id="inv-number"' in evidence_path(store, html).read_text()
    erp.switch(changed_ids=False, changed_labels=False)  # the mapping is fixed (here: the app rolled back)
    again = run_bot(bot, inputs(f, erp), store=store)
    assert again.done == 10 and max(refs(erp).values()) == 1 and len(incidents(store)) == 1


def test_http_500_at_login_stops_the_run_with_one_incident(store, erp, tmp_path) -> None:
    """One HTTP 500 at the login used to queue every row of the batch as DE-LOGIN."""
    erp.switch(login_status=500)
    f = write_workbook(tmp_path / "in.xlsx", make_rows(30))
    started = time.monotonic()
    with pytest.raises(TargetDown, match="HTTP 500"):
        run_bot(bot, inputs(f, erp), store=store)
    took = time.monotonic() - started
    assert took < 60, f"{took:.0f} s"
    assert queued(store, "data-entry") == [] and erp.db.invoices() == []
    [incident] = incidents(store)
    assert incident["data"]["kind"] == "target-down" and incident["data"]["target"] == erp.url
    assert len(incident["evidence"]) == 2  # the login page's screenshot and HTML
    from sqlalchemy import select

    from backoffice.schema import runs

    with store.read() as conn:
        assert [r.status for r in conn.execute(select(runs.c.status))] == ["failed"]
    erp.switch(login_status=0)
    again = run_bot(bot, inputs(f, erp), store=store)
    assert again.done == 30 and len(refs(erp)) == 30 and max(refs(erp).values()) == 1


def test_refused_login_fails_fast_and_leaks_no_password(store, erp, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", "not-the-password-42")
    f = write_workbook(tmp_path / "in.xlsx", make_rows(2))
    with pytest.raises(LoginFailed) as info:
        run_bot(bot, inputs(f, erp), store=store)
    assert "not-the-password-42" not in str(info.value)
    assert queued(store, "data-entry") == [] and erp.db.invoices() == []
    dump = json.dumps(audit.entries(store), default=str)
    assert "not-the-password-42" not in dump
    [incident] = incidents(store)  # one incident with the refused login page as evidence
    assert incident["data"]["error"] == "LoginFailed" and len(incident["evidence"]) == 2
    html = next(
        e for e in incident["evidence"] if "login-error" in evidence_path(store, e).read_text(errors="ignore")
    )
    assert "not-the-password-42" not in evidence_path(store, html).read_text()


def test_login_refused_on_renewal_stops_the_batch(store, erp, tmp_path) -> None:
    from backoffice.runner import start_run

    f = write_workbook(tmp_path / "in.xlsx", make_rows(3))
    run = start_run(bot, bot.parse_inputs(inputs(f, erp)), store)
    state = bot.open(run.inputs, run)  # logged in with the right password
    try:
        items = list(bot.read(state))
        erp.db.seed(DEFAULT_USER, "changed-meanwhile-77")  # then the target's password changes
        erp.switch(session_max_requests=1)  # and the session runs out: the renewal is refused
        with pytest.raises(LoginFailed) as info:
            list(bot.act(items, state))
    finally:
        bot.close(state)
    assert isinstance(info.value, TargetDown)  # the runner stops the run, no per-row DE-LOGIN
    assert DEFAULT_PASSWORD not in str(info.value) and erp.db.invoices() == []


def test_one_browser_per_run_closed_also_when_the_run_fails(store, erp, tmp_path, monkeypatch) -> None:
    from openpyxl import Workbook

    from bots.data_entry.bot import DataEntryBot

    states = []
    real_close = DataEntryBot.close

    def close(self, state):
        states.append(state)
        real_close(self, state)

    monkeypatch.setattr(DataEntryBot, "close", close)
    wb = Workbook()
    wb.active.append(["Vendor No", "Invoice No"])  # columns missing: read fails after open
    wb.active.append(["V1001", "X-1"])
    wb.save(tmp_path / "short.xlsx")
    with pytest.raises(InputError):
        run_bot(bot, inputs(tmp_path / "short.xlsx", erp), store=store)
    [failed] = states
    assert failed.web.page.is_closed()
    logins = erp.stats()["logins"]
    s = run_bot(
        bot, inputs(write_workbook(tmp_path / "in.xlsx", make_rows(6)), erp), store=store, batch_size=2
    )
    assert s.done == 6 and len(states) == 2  # three batches, one browser, closed once
    assert states[1].web.page.is_closed()
    assert erp.stats()["logins"] - logins == 1  # one browser login for the look-ups and all batches
