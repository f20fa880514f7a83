"""The data-entry bot driven by mapping files: the object repository's validation (line and key),
a second app built unlike the fixture ERP entered with only another mapping (real Chromium), and
``--check-mapping``."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice.browser import launch_options
from backoffice.errors import ConfigError, InputError
from backoffice.runner import run_bot
from backoffice.testing import done, open_store, queued
from bots.data_entry.bot import bot
from bots.data_entry.models import DEFAULT_MAPPING, check_mapping_file
from connectors.object_repository import MappingError, parse_mapping
from fixtures.data_entry.generate import make_rows, write_workbook
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, start_in_thread
from fixtures.payables_app import MAPPING as HUB_MAPPING
from fixtures.payables_app import PASSWORD as HUB_PASSWORD
from fixtures.payables_app import USER as HUB_USER
from fixtures.payables_app import start_in_thread as start_hub

ERP_TEXT = DEFAULT_MAPPING.read_text()


def error_of(text: str) -> MappingError:
    with pytest.raises(MappingError) as info:
        parse_mapping(text, file="m.toml")
    return info.value


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


# -- the object repository, no browser -----------------------------------------------------------
def test_both_shipped_mappings_are_valid_for_the_bot() -> None:
    erp, hub = check_mapping_file(DEFAULT_MAPPING), check_mapping_file(HUB_MAPPING)
    assert erp.name == "Fixture ERP" and len(erp.form.steps) == 1 and erp.form.confirm is None
    assert hub.name == "Payables Hub" and len(hub.form.steps) == 2 and hub.form.confirm is not None
    assert len(hub.login.steps) == 2 and hub.search.mode == "page" and erp.search.mode == "fetch"
    for m in (erp, hub):  # every field typed is read back; the key is typed so the search finds it
        assert set(m.form.fields) == set(m.record.fields) and "key" in m.sources()
        assert all(
            f.label or f.role for f in m.form.fields.values()
        )  # by label first, css at most a fallback


def test_a_typo_names_its_line_and_key() -> None:
    text = ERP_TEXT.replace(
        'fields.tax_amount = { label = "Tax amount"', 'fields.tax_amount = { lable = "Tax amount"'
    )
    err = error_of(text)
    assert err.line == line_of(text, "lable =") and err.key == "form.steps[0].fields.tax_amount.lable"
    assert str(err).startswith(
        f"m.toml, line {err.line}, key form.steps[0].fields.tax_amount.lable: unknown key"
    )


def test_a_missing_section_a_bad_value_and_bad_toml_are_named() -> None:
    text = ERP_TEXT.replace('path = "/invoices/{id}"', 'path = "/invoices/"')
    err = error_of(text)
    assert err.key == "record" and "{id}" in err.message and err.line == line_of(text, "[record]")
    text = ERP_TEXT.replace("[[login.steps]]", "[[login.stepz]]")
    assert error_of(text).key.startswith("login")
    err = error_of(ERP_TEXT.replace('name = "Fixture ERP"', 'name = "Fixture ERP'))
    assert "not valid TOML" in str(err) and err.line == line_of(ERP_TEXT, 'name = "Fixture ERP"')
    text = ERP_TEXT.replace('vendor_no = { label = "Vendor", css = "[data-field=vendor_no]" }\n', "")
    assert "record.fields lacks ['vendor_no']" in str(error_of(text))  # every typed field is read back
    text = ERP_TEXT.replace(
        'click = { role = "button", name = "Save invoice", css = "#save" }',
        'click = { name = "Save", css = "#save" }',
    )
    err = error_of(text)
    assert "give role too" in err.message and err.line == line_of(
        text, 'click = { name = "Save", css = "#save" }'
    )


def test_the_bot_refuses_a_mapping_that_types_unknown_columns_or_not_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(ERP_TEXT.replace('source = "key"', 'source = "reference"'))
    with pytest.raises(MappingError, match="'reference' is not an input column") as info:
        check_mapping_file(bad)
    assert info.value.key == "form.steps[0].fields.external_ref"
    assert info.value.line == line_of(bad.read_text(), 'source = "reference"')
    lines = [ln for ln in ERP_TEXT.splitlines() if "external_ref" not in ln]  # the key typed nowhere
    bad.write_text("\n".join(lines))
    with pytest.raises(MappingError, match="takes the row's key"):
        check_mapping_file(bad)


def test_a_bad_mapping_is_a_usage_error_before_the_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BACKOFFICE_ERP_USER", "clerk")
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", "pw")
    bad = tmp_path / "bad.toml"
    bad.write_text(ERP_TEXT.replace("[search]", "[serch]"))
    f = write_workbook(tmp_path / "in.xlsx", make_rows(1))
    with pytest.raises(InputError, match=r"--mapping: .*bad.toml, line \d+, key serch: unknown key"):
        bot.parse_inputs({"input": str(f), "target": "http://erp", "mapping": str(bad)})
    with pytest.raises(InputError, match="--input is required"):
        bot.parse_inputs({"target": "http://erp"})
    assert bot.parse_inputs({"target": "http://erp", "check_mapping": str(DEFAULT_MAPPING)}).input is None


# -- a second app, real Chromium -----------------------------------------------------------------
@pytest.fixture
def chromium() -> None:
    try:
        launch_options()
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")


@pytest.fixture
def hub(chromium, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ERP_USER", HUB_USER)
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", HUB_PASSWORD)
    server = start_hub()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path, monkeypatch):
    from backoffice.settings import reset_settings
    from backoffice.store import Store

    s = open_store(tmp_path / "home", monkeypatch, retries="3", retry_backoff_seconds="0.02")
    yield s
    Store.close_all()
    reset_settings()


@pytest.mark.browser
def test_the_same_bot_enters_into_a_second_app_with_only_its_mapping(
    hub, store, tmp_path, monkeypatch
) -> None:
    f = write_workbook(tmp_path / "in.xlsx", make_rows(14, invalid=True))
    args = {"input": str(f), "target": hub.url, "mapping": str(HUB_MAPPING), "timeout_ms": 4000}
    s = run_bot(bot, args, store=store)
    assert (s.total, s.done, s.queued, s.system) == (15, 8, 7, 0)  # the demo's counts, another app
    assert s.codes["DE-VENDOR-BLOCKED"] == 1  # the app's "on-hold" supplier, from its own look-up
    docs = hub.documents()
    finished = done(store, "data-entry")
    assert len(docs) == 8 and {d["botref"] for d in docs} == {it.row["key"] for it in finished}
    for it in finished:  # read back through the confirmation, the table layout and "1,234.56" amounts
        [doc] = [d for d in docs if d["botref"] == it.row["key"]]
        assert it.row["result"]["target_id"] == doc["number"] and it.row["result"]["existed"] is False
        assert str(doc["total"]) == it.row["payload"]["gross_amount"]
        assert it.row["evidence"][0]["media_type"] == "image/png"
    assert {it.row["kind"] for it in queued(store, "data-entry")} == {"business"}
    # a rerun from an empty store (the store was lost): the slow search finds every row, nothing twice
    fresh = open_store(tmp_path / "home2", monkeypatch, retries="3", retry_backoff_seconds="0.02")
    again = run_bot(bot, args, store=fresh)
    assert again.done == 8 and len(hub.documents()) == 8
    assert all(it.row["result"]["existed"] for it in done(fresh, "data-entry"))


@pytest.mark.browser
def test_check_mapping_finds_every_element_of_the_second_app(hub, store, tmp_path) -> None:
    s = run_bot(bot, {"target": hub.url, "check_mapping": str(HUB_MAPPING)}, store=store)
    report = s.extra["mapping_check"]
    assert s.extra["mapping_missing"] == [] and bot.exit_code(s.to_dict()) == 0, report
    for name in (
        "login",
        "search",
        "form.steps[1].fields.net_amount",
        "form.confirm.dialog",
        "form.confirm.accept",
    ):
        assert f"found    {name}" in report
    assert "by label 'Amount excl. VAT'" in report and "by role dialog 'Post this document?'" in report
    assert Path(s.extra["mapping_screenshot"]).read_bytes().startswith(b"\x89PNG")
    assert s.total == 0 and hub.documents() == []  # a check posts nothing


@pytest.mark.browser
def test_check_mapping_reports_what_a_release_broke(chromium, store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BACKOFFICE_ERP_USER", DEFAULT_USER)
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", DEFAULT_PASSWORD)
    erp = start_in_thread(tmp_path / "erp.db")
    try:
        ok = run_bot(bot, {"target": erp.url, "check_mapping": str(DEFAULT_MAPPING)}, store=store)
        assert ok.extra["mapping_missing"] == [], ok.extra["mapping_check"]
        erp.switch(changed_ids=True)  # ids renamed: still found by label
        assert (
            run_bot(bot, {"target": erp.url, "check_mapping": str(DEFAULT_MAPPING)}, store=store).extra[
                "mapping_missing"
            ]
            == []
        )
        erp.switch(changed_labels=True)  # and the labels: nothing finds these any more
        s = run_bot(
            bot, {"target": erp.url, "check_mapping": str(DEFAULT_MAPPING), "timeout_ms": 1500}, store=store
        )
    finally:
        erp.stop()
    missing = s.extra["mapping_missing"]
    assert missing == [
        "form.steps[0].fields.invoice_no",
        "form.steps[0].fields.gross_amount",
        "form.steps[0].click",
    ]
    assert bot.exit_code(s.to_dict()) == 1
    assert "MISSING  form.steps[0].fields.invoice_no" in s.extra["mapping_check"]
    assert "not found by label 'Invoice number' / css '#invoice_no'" in s.extra["mapping_check"]
    assert Path(s.extra["mapping_screenshot"]).is_file()
