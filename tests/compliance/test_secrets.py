"""A planted secret (a password, the audit HMAC key, the session key) never shows up in any
output, log, page, database file or evidence pack."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest

from backoffice.cli import main
from backoffice.errors import PermissionDenied
from backoffice.store import Store
from backoffice.testing import TEST_USERS, open_store
from backoffice.users import add_user, authenticate
from tests.compliance.conftest import build_scenario
from tests.inbox.conftest import csrf_of, make_client, post

PASSWORD = "PLANTED-Pa55word-3b8d41"
AUDIT_KEY = "PLANTED-audit-key-7c1f9e55"
SESSION_KEY = "PLANTED-session-key-0a6d2c"
SECRETS = (PASSWORD, AUDIT_KEY, SESSION_KEY)


def _assert_absent(where: str, blob: bytes | str) -> None:
    data = blob.encode() if isinstance(blob, str) else blob
    for secret in SECRETS:
        for form in (secret.encode(), secret.encode("utf-16-le"), secret.encode().hex().encode()):
            assert form not in data, f"{secret!r} found in {where}"


def test_planted_secrets_never_appear(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    store: Store = open_store(home, monkeypatch, audit_key=AUDIT_KEY, session_secret=SESSION_KEY)
    for name, role in TEST_USERS.items():
        add_user(store, name, role, password=PASSWORD if name == "compliance" else f"{name}-password")
    sc = build_scenario(store)
    authenticate(store, "compliance", PASSWORD)
    with pytest.raises(PermissionDenied):
        authenticate(store, "approver", PASSWORD)  # someone types another user's password

    # the CLI, every compliance command
    pack = tmp_path / "pack.zip"
    clear = tmp_path / "clear.zip"
    monkeypatch.setenv("AUDITOR_KEY", AUDIT_KEY)
    commands = [
        ["config", "--json"],
        ["config"],
        ["audit", "verify", "--json"],
        ["audit", "list", "--json", "-u", "compliance"],
        ["audit", "list", "--json", "-u", "compliance", "--unmask", "--reason", "secret test"],
        ["audit", "story", str(sc.invoice_a), "--json", "-u", "compliance"],
        ["audit", "export", "--out", str(pack), "-u", "compliance"],
        ["audit", "export", "--out", str(clear), "-u", "compliance", "--unmask", "--reason", "secret test"],
        ["audit", "verify-pack", str(pack), "--key-env", "AUDITOR_KEY", "--json"],
        ["audit", "verify-pack", str(clear)],
        ["audit", "access-review", "--json", "-u", "compliance"],
        ["audit", "retention", "show", "--json", "-u", "compliance"],
        ["audit", "purge", "--dry-run", "--json", "-u", "compliance"],
        ["queue", "list", "--json", "-u", "compliance"],
        ["users", "list", "--json", "-u", "compliance"],
    ]
    for argv in commands:
        code = main(argv)
        assert code == 0, (argv, capsys.readouterr())
    out = capsys.readouterr()
    _assert_absent("CLI stdout", out.out)
    _assert_absent("CLI stderr", out.err)

    # the inbox: every page a compliance user sees, and the export download
    client = make_client(store)
    page = client.get("/login")
    r = client.post(
        "/login", data={"csrf_token": csrf_of(page.text), "username": "compliance", "password": PASSWORD}
    )
    assert r.status_code == 303
    pages = []
    for url in (
        "/queue",
        f"/items/{sc.invoice_a}",
        "/kpis",
        "/audit",
        f"/audit/items/{sc.payroll}",
        "/audit/access-review",
        "/audit/retention",
        f"/evidence/{sc.evidence}",
    ):
        resp = client.get(url, follow_redirects=True)
        assert resp.status_code == 200, url
        pages.append((url, resp))
    token = csrf_of(pages[3][1].text)
    pages.append(("unmask", post(client, "/audit/unmask", token, reason="secret test")))
    download = post(client, "/audit/export", token, unmask="1", reason="secret test")
    assert download.status_code == 200
    pages.append(("export", download))
    for url, resp in pages:
        _assert_absent(f"page {url}", resp.content)
        _assert_absent(f"headers of {url}", json.dumps(dict(resp.headers)))
    for cookie in client.cookies.jar:
        _assert_absent("session cookie", str(cookie.value))

    # logs, database files, evidence files, packs (and what is inside them)
    _assert_absent("log records", caplog.text)
    Store.close_all()
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "backoffice.db" for p in files)
    for p in files:
        _assert_absent(str(p), p.read_bytes())
    (tmp_path / "download.zip").write_bytes(download.content)
    for p in (pack, clear, tmp_path / "download.zip"):
        _assert_absent(str(p), p.read_bytes())
        with zipfile.ZipFile(p) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            assert manifest["hash_alg"] == "hmac-sha256" and "signature" in manifest  # the key was used
            for name in zf.namelist():
                _assert_absent(f"{p.name}:{name}", zf.read(name))
