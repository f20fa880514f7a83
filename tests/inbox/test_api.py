"""Issue 16, the CLI trusts any --user: personal API tokens, the inbox's JSON API, the CLI with
--server, deactivation, and ids too large for the database."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import uvicorn
from sqlalchemy import select, update

from backoffice import audit
from backoffice.cli import main
from backoffice.schema import api_tokens
from backoffice.settings import reset_settings
from backoffice.store import utcnow
from backoffice.users import create_token, deactivate_user, list_tokens
from tests.inbox.conftest import login, make_client

BIG = "99999999999999999999"


def _token(store, user: str) -> str:
    return create_token(store, user, "test", days=1, auth="password")[1]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_made_with_the_password_stored_hashed_and_shown_once(bo_store, bo_users):
    c = make_client(bo_store)
    wrong = c.post("/api/v1/tokens", json={"user": "associate", "password": "nope", "name": "laptop"})
    assert wrong.status_code == 401
    r = c.post(
        "/api/v1/tokens", json={"user": "associate", "password": "associate-password", "name": "laptop"}
    )
    assert r.status_code == 201
    secret = r.json()["token"]
    assert secret.startswith("bo_") and r.json()["user"] == "associate"
    with bo_store.read() as conn:
        (row,) = conn.execute(select(api_tokens)).all()
    assert secret.split("_", 2)[2] not in row.hash and len(row.hash) == 64
    assert c.get("/api/v1/whoami", headers=_bearer(secret)).json() == {
        "name": "associate",
        "role": "associate",
    }
    listed = c.get("/api/v1/tokens", headers=_bearer(secret)).json()
    assert [t["name"] for t in listed] == ["laptop"] and "hash" not in listed[0] and "token" not in listed[0]
    (created,) = audit.entries(bo_store, action="token.created")
    assert created["data"]["auth"] == "password" and created["actor"] == "associate"


def test_bad_expired_revoked_and_deactivated_tokens_are_refused(bo_store, bo_users):
    c = make_client(bo_store)
    assert c.get("/api/v1/queue").status_code == 401
    assert c.get("/api/v1/queue", headers=_bearer("bo_x_y")).status_code == 401
    tok = _token(bo_store, "associate")
    assert c.get("/api/v1/queue", headers=_bearer(tok + "x")).status_code == 401
    assert c.get("/api/v1/queue", headers=_bearer(tok)).status_code == 200
    with bo_store.write() as conn:
        conn.execute(update(api_tokens).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert c.get("/api/v1/queue", headers=_bearer(tok)).status_code == 401
    tok2 = _token(bo_store, "associate")
    token_id = tok2.split("_")[1]
    assert c.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(tok2)).status_code == 200
    assert c.get("/api/v1/queue", headers=_bearer(tok2)).status_code == 401
    tok3 = _token(bo_store, "team_lead")
    deactivate_user(bo_store, "team_lead", by="admin")
    assert c.get("/api/v1/queue", headers=_bearer(tok3)).status_code == 401
    assert all(t.revoked_at is not None for t in list_tokens(bo_store, "team_lead"))
    # a cookie session does not open the API (it has no CSRF check): only a token does
    login(c, "associate")
    assert c.get("/api/v1/queue").status_code == 401


def test_api_work_records_auth_token_and_keeps_maker_checker(bo_store, bo_users, toy_run):
    c = make_client(bo_store)
    assoc, lead = _token(bo_store, "associate"), _token(bo_store, "team_lead")
    item = toy_run["ids"][0]
    listed = c.get("/api/v1/queue", headers=_bearer(assoc)).json()
    assert listed["total"] == len(toy_run["ids"]) and {i["id"] for i in listed["items"]} == set(
        toy_run["ids"]
    )
    assert c.post(f"/api/v1/items/{item}/claim", headers=_bearer(assoc)).json()["assignee"] == "associate"
    assert (
        c.post(f"/api/v1/items/{item}/comment", json={"text": "looking"}, headers=_bearer(assoc)).status_code
        == 200
    )
    body = {"decision": "approve", "reason": "checked the order"}
    made = c.post(f"/api/v1/items/{item}/resolve", json=body, headers=_bearer(assoc)).json()
    assert made["status"] == "pending_approval"
    self_check = c.post(f"/api/v1/items/{item}/resolve", json=body, headers=_bearer(assoc))
    assert self_check.status_code in (403, 409)
    checked = c.post(f"/api/v1/items/{item}/resolve", json=body, headers=_bearer(lead)).json()
    assert checked["status"] == "resolved" and checked["checker"] == "team_lead"
    shown = c.get(f"/api/v1/items/{item}", headers=_bearer(assoc)).json()
    assert [x["text"] for x in shown["comments"]] == ["looking"]
    mine = [
        e for e in audit.entries(bo_store, subject=f"item:{item}") if e["actor"] in ("associate", "team_lead")
    ]
    assert mine and {e["data"].get("auth") for e in mine} == {"token"}
    admin = _token(bo_store, "admin")
    assert c.get("/api/v1/queue", headers=_bearer(admin)).status_code == 403  # the permission matrix holds


def test_twenty_digit_ids_are_404_not_500(bo_store, bo_users, toy_run):
    c = make_client(bo_store)
    tok = _token(bo_store, "associate")
    for method, url in (
        ("GET", f"/api/v1/items/{BIG}"),
        ("POST", f"/api/v1/items/{BIG}/claim"),
        ("POST", f"/api/v1/items/{BIG}/release"),
        ("DELETE", f"/api/v1/tokens/{'x' * 40}"),
    ):
        assert c.request(method, url, headers=_bearer(tok)).status_code == 404, url
    token = login(c, "associate")
    assert c.get(f"/items/{BIG}").status_code == 404
    assert c.post("/queue/bulk", data={"csrf_token": token, "ids": BIG, "action": "claim"}).status_code < 500
    c2 = make_client(bo_store)
    token = login(c2, "compliance")
    assert c2.get(f"/audit/items/{BIG}").status_code == 404
    assert c2.get(f"/audit?before={BIG}").status_code == 400
    assert c2.post(f"/audit/items/{BIG}/unmask", data={"csrf_token": token, "reason": "x"}).status_code == 404
    release = c2.post(f"/audit/retention/holds/{BIG}/release", data={"csrf_token": token, "reason": "x"})
    assert release.status_code == 404
    assert not list(audit.entries(bo_store, action="unmask"))  # nothing was unmasked for a bad id


# -- the CLI -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(bo_store) -> Iterator[str]:
    from backoffice.inbox import create_app

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(bo_store), host="127.0.0.1", port=port, log_level="error"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the inbox did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


def test_cli_with_server_acts_as_the_tokens_user(bo_store, bo_users, toy_run, server, monkeypatch, capsys):
    item = toy_run["ids"][1]
    monkeypatch.setattr("sys.stdin", io.StringIO("associate-password\n"))
    assert main(["tokens", "create", "--user", "associate", "--name", "laptop", "--server", server]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("bo_")
    monkeypatch.setenv("BACKOFFICE_TOKEN", secret)
    reset_settings()
    assert main(["queue", "--server", server, "claim", str(item)]) == 0
    assert "claimed by associate" in capsys.readouterr().out
    assert main(["queue", "--server", server, "comment", str(item), "--text", "via api"]) == 0
    assert main(["queue", "--server", server, "list", "--json"]) == 0
    assert str(item) in capsys.readouterr().out
    assert (
        main(["queue", "--server", server, "resolve", str(item), "--decision", "reject", "--reason", "dup"])
        == 0
    )
    assert main(["queue", "--server", server, "show", str(item), "--json"]) == 0
    assert '"status": "resolved"' in capsys.readouterr().out
    entries = [e for e in audit.entries(bo_store, subject=f"item:{item}") if e["actor"] == "associate"]
    assert len(entries) >= 3 and {e["data"]["auth"] for e in entries} == {"token"}
    assert main(["tokens", "list", "--server", server, "--json"]) == 0
    token_id = secret.split("_")[1]
    assert token_id in capsys.readouterr().out
    assert main(["tokens", "revoke", token_id, "--server", server]) == 0
    assert main(["queue", "--server", server, "list"]) == 3  # permission denied: the token is revoked
    monkeypatch.delenv("BACKOFFICE_TOKEN")
    reset_settings()
    assert main(["queue", "--server", server, "list"]) == 2  # usage: no token


def test_cli_local_store_access_records_auth_local(bo_store, bo_users, toy_run, capsys):
    item = toy_run["ids"][0]
    assert main(["queue", "claim", str(item), "--user", "associate"]) == 0
    (claimed,) = audit.entries(bo_store, action="item.claimed")
    assert claimed["data"]["auth"] == "local"
    assert main(["queue", "claim", str(item)]) == 2  # who acts must be named


def test_users_deactivate_by_an_admin(bo_store, bo_users, capsys):
    c = make_client(bo_store)
    login(c, "associate")
    assert main(["users", "deactivate", "associate"]) == 3  # an admin exists: --by is required
    assert main(["users", "deactivate", "associate", "--by", "associate"]) == 3  # not an admin
    assert main(["users", "deactivate", "associate", "--by", "admin"]) == 0
    assert c.get("/queue").status_code == 303
    assert main(["users", "deactivate", "admin", "--by", "admin"]) == 1  # not oneself
