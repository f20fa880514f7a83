"""Engagements (issue 14.1): two clients, acme and globex, each in a store of its own, on SQLite
and on PostgreSQL. A user of each tries every command and every inbox route of the other and
sees nothing of it; a provider associate assigned to both sees each client only in its own
engagement; the default engagement stays as simple as before."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice import audit
from backoffice.cli import main, take_engagement
from backoffice.engagements import add_engagement, assign_user, list_engagements
from backoffice.errors import ConflictError, InputError, NotFound, PermissionDenied
from backoffice.queue import Queue
from backoffice.schema import items
from backoffice.settings import reset_settings
from backoffice.store import Store, use_engagement
from backoffice.testing import queue_items
from backoffice.users import add_user, get_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ACME_CODE, GLOBEX_CODE = "ACME-ONLY-RULE", "GLOBEX-ONLY-RULE"


@pytest.fixture(params=["sqlite", "postgresql"])
def provider(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")
    else:
        monkeypatch.setenv("BACKOFFICE_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
        reset_settings()
        Store.close_all()
    return Store.open()


@pytest.fixture
def clients(provider: Store) -> dict[str, Any]:
    """acme (3 queued items) and globex (2), their own users, and pat, a provider associate in both."""
    add_user(provider, "root", "admin", password="root-password")
    add_user(provider, "pat", "associate", by="root", password="pat-password")
    add_user(provider, "cora", "compliance", by="root", password="cora-password")
    queue_items(provider, 1, codes=("PROVIDER-RULE",), start=900)
    stores = {}
    for name, code, n, approver, lead in (
        ("acme", ACME_CODE, 3, "ann", "al"),
        ("globex", GLOBEX_CODE, 2, "gus", "gil"),
    ):
        add_engagement(provider, name, by="root", title=name.title())
        s = Store.open(engagement=name)
        assign_user(s, "pat", "associate", by="root")
        add_user(s, approver, "approver", by="root", password=f"{approver}-password")
        add_user(s, lead, "team_lead", by="root", password=f"{lead}-password")
        queue_items(s, n, codes=(code,), start=0)  # the same keys and ids in both engagements
        stores[name] = s
    return {"provider": provider, **stores}


def _ids(store: Store) -> list[int]:
    with store.read() as conn:
        return [int(i) for (i,) in conn.execute(select(items.c.id).order_by(items.c.id))]


def test_each_engagement_has_its_own_store_users_and_audit_chain(clients: dict[str, Any]) -> None:
    acme, globex, provider = clients["acme"], clients["globex"], clients["provider"]
    assert (acme.engagement, globex.engagement, provider.engagement) == ("acme", "globex", "default")
    assert _ids(acme) == [1, 2, 3] and _ids(globex) == [1, 2]  # same ids, different rows
    assert {v.code for i in Queue(acme).list(limit=None) for v in i.violations} == {ACME_CODE}
    assert {v.code for i in Queue(globex).list(limit=None) for v in i.violations} == {GLOBEX_CODE}
    # users: a client's own users exist in its store only; pat in both, with the role given there
    assert get_user(acme, "pat").role == "associate" and get_user(globex, "pat").role == "associate"
    with pytest.raises(NotFound, match="in engagement 'globex'"):
        get_user(globex, "ann")
    with pytest.raises(NotFound):
        get_user(provider, "ann")
    # each chain verifies on its own; creation and assignments are in the engagement's log
    for s in (acme, globex, provider):
        assert audit.verify(s).ok
    actions = [e["action"] for e in audit.entries(acme, limit=None)]
    assert actions[:3] == ["engagement.created", "user.assigned", "user.assigned"]
    assert "engagement.added" in [e["action"] for e in audit.entries(provider, limit=None)]
    assert "user.assigned_elsewhere" in [e["action"] for e in audit.entries(provider, limit=None)]
    # the engagements' list: admins and compliance of the provider only
    assert [e.name for e in list_engagements(provider, "cora")] == ["default", "acme", "globex"]
    with pytest.raises(PermissionDenied):
        list_engagements(provider, "pat")


def test_bad_engagement_names_duplicates_and_non_admins_are_refused(clients: dict[str, Any]) -> None:
    provider = clients["provider"]
    with pytest.raises(ConflictError, match="exists"):
        add_engagement(provider, "acme", by="root")
    for bad in ("Acme", "a", "9lives", "x" * 41, "acme corp", "../etc"):
        with pytest.raises(InputError):
            add_engagement(provider, bad, by="root")
    with pytest.raises(InputError, match="reserved"):
        add_engagement(provider, "all", by="root")
    with pytest.raises(PermissionDenied):
        add_engagement(provider, "initech", by="pat")
    with pytest.raises(NotFound, match="no engagement 'initech'"):
        Store.open(engagement="initech")
    # only an admin of the engagement assigns users to it
    with pytest.raises(PermissionDenied):
        assign_user(clients["acme"], "cora", "compliance", by="ann")
    # a client approver belongs to one engagement: never assigned into another, nor made one by assignment
    with pytest.raises(InputError, match="belongs to one engagement"):
        assign_user(clients["globex"], "ann", "associate", by="root", source=clients["acme"])
    with pytest.raises(InputError, match="belongs to one engagement"):
        assign_user(clients["acme"], "cora", "approver", by="root")


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def _commands(tmp: Path) -> list[list[str]]:
    """Every command that reads or changes an engagement's data, with arguments that would work."""
    return [
        ["queue", "list", "--json"],
        ["queue", "list", "--status", "all", "--json"],
        ["queue", "show", "1", "--json"],
        ["queue", "claim", "1"],
        ["queue", "next"],
        ["queue", "release", "1"],
        ["queue", "comment", "1", "--text", "hello"],
        ["queue", "resolve", "1", "--decision", "approve", "--reason", "ok"],
        ["queue", "reopen", "1", "--reason", "again"],
        ["queue", "escalate", "1", "--reason", "up"],
        ["queue", "assign", "1", "--to", "pat"],
        ["queue", "postpone", "1", "--until", "2099-01-01", "--reason", "later"],
        ["queue", "resume", "1", "--reason", "now"],
        ["queue", "stats", "--json"],
        ["queue", "trends", "--json"],
        ["queue", "export", "--format", "csv", "--out", str(tmp / "export.csv")],
        ["queue", "awaiting", "--json"],
        ["queue", "sample", "--bot", "test", "--size", "1", "--seed", "1"],
        ["queue", "review", "1", "--verdict", "pass"],
        ["queue", "accuracy", "--json"],
        ["audit", "list", "--json"],
        ["audit", "story", "1", "--json"],
        ["audit", "export", "--out", str(tmp / "pack.zip")],
        ["audit", "access-review", "--json"],
        ["audit", "retention", "show", "--json"],
        ["audit", "purge", "--dry-run", "--json"],
        ["report", "register", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp / "r.xlsx")],
        ["report", "governance", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp / "g.xlsx")],
        ["incidents", "list", "--json"],
        ["owners", "show", "--json"],
        ["owners", "list", "--json"],
        ["rules", "list", "--json"],
        ["users", "list", "--json"],
        ["tokens", "list"],
    ]


def test_a_user_of_one_client_is_refused_every_command_of_the_other(
    clients: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for outsider, other, their_code in (("ann", "globex", GLOBEX_CODE), ("gus", "acme", ACME_CODE)):
        for argv in _commands(out):
            code, text = _cli([*argv, "--engagement", other, "--user", outsider], capsys)
            assert code == 3, (argv, other, text)
            assert their_code not in text and "permission denied" in text, (argv, text)
        denied = [e for e in audit.entries(clients[other], action="permission.denied", limit=None)]
        assert {e["actor"] for e in denied} == {outsider}  # each refusal is in the other client's log
    assert not list(out.iterdir())  # no export, pack or report was written


def test_the_provider_associate_sees_each_client_only_in_its_engagement(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    seen = {}
    for eng in ("acme", "globex"):
        code, text = _cli(["queue", "list", "--json", "-e", eng, "-u", "pat"], capsys)
        assert code == 0, text
        seen[eng] = {v["code"] for i in json.loads(text) for v in i["violations"]}
    assert seen == {"acme": {ACME_CODE}, "globex": {GLOBEX_CODE}}
    code, text = _cli(["queue", "show", "1", "--json", "--engagement=globex", "-u", "pat"], capsys)
    assert code == 0 and GLOBEX_CODE in text and ACME_CODE not in text
    # a claim in acme leaves globex's item 1 alone
    assert _cli(["queue", "claim", "1", "-u", "pat", "--engagement", "acme"], capsys)[0] == 0
    assert Queue(clients["acme"]).get(1).assignee == "pat"
    assert Queue(clients["globex"]).get(1).assignee is None
    # the default engagement: the provider's own item only, and no --engagement needed
    code, text = _cli(["queue", "list", "--json", "-u", "pat"], capsys)
    assert code == 0 and {v["code"] for i in json.loads(text) for v in i["violations"]} == {"PROVIDER-RULE"}
    # a client user does not exist in the provider's store
    assert _cli(["queue", "list", "-u", "ann"], capsys)[0] == 3


def test_engagements_and_assign_at_the_cli(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _cli(["engagements", "list", "--json", "-u", "root"], capsys)
    assert code == 0 and [e["name"] for e in json.loads(text)] == ["default", "acme", "globex"]
    assert _cli(["engagements", "list", "-u", "pat"], capsys)[0] == 3
    code, text = _cli(["engagements", "add", "initech", "--title", "Initech", "--by", "root"], capsys)
    assert code == 0 and "initech added" in text
    assert (
        _cli(
            ["users", "assign", "cora", "--engagement", "initech", "--role", "compliance", "--by", "root"],
            capsys,
        )[0]
        == 0
    )
    assert get_user(Store.open(engagement="initech"), "cora").role == "compliance"
    code, text = _cli(
        ["users", "assign", "nobody", "-e", "initech", "--role", "associate", "--by", "root"], capsys
    )
    assert code == 1 and "no user 'nobody'" in text
    code, text = _cli(["queue", "list", "-e", "Bad Name", "-u", "pat"], capsys)
    assert code in (1, 2) and "engagement name" in text
    assert take_engagement(["queue", "list", "-e", "acme", "--", "-e", "x"]) == (
        ["queue", "list", "--", "-e", "x"],
        "acme",
    )


def test_the_inbox_of_one_client_shows_nothing_of_the_other(clients: dict[str, Any]) -> None:
    from backoffice.inbox import create_app
    from tests.inbox.conftest import csrf_of

    def client(store: Store) -> TestClient:
        return TestClient(create_app(store, count_staleness=0), follow_redirects=False)

    def log_in(c: TestClient, name: str) -> int:
        page = c.get("/login")
        r = c.post(
            "/login",
            data={"csrf_token": csrf_of(page.text), "username": name, "password": f"{name}-password"},
        )
        return r.status_code

    for eng, outsider, insider, their_code, own_code in (
        ("acme", "gus", "ann", GLOBEX_CODE, ACME_CODE),
        ("globex", "ann", "gus", ACME_CODE, GLOBEX_CODE),
    ):
        store = clients[eng]
        c = client(store)
        assert log_in(c, outsider) != 303  # not a user of this engagement: no session at all
        assert c.get("/queue").status_code in (303, 307)
        # the insider, and the provider associate, see only this engagement's items on every page
        for who in (insider, "pat"):
            c = client(store)
            assert log_in(c, who) == 303
            pages = _every_get_route(c, store)
            assert sum(status == 200 for status, _ in pages.values()) >= 5, pages.keys()
            for url, (_status, text) in pages.items():
                assert their_code not in text, url
            queue = c.get("/queue?status=all").text
            assert f'data-engagement="{eng}"' in queue and own_code in queue


def _every_get_route(c: TestClient, store: Store) -> dict[str, tuple[int, str]]:
    """Every GET route of the inbox app, path parameters filled with the ids the store has."""
    import importlib

    from starlette.routing import Route

    from backoffice.inbox.app import BUILTIN_ROUTERS

    routes = [r for m in BUILTIN_ROUTERS for r in importlib.import_module(m).router.routes]
    filled = {
        "item_id": "1",
        "id": "1",
        "version_id": "1",
        "incident_id": "1",
        "sample_id": "1",
        "run_id": "x",
    }
    out: dict[str, tuple[int, str]] = {}
    for route in routes:
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        path = route.path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", filled.get(name, "1"))
        if "{" in path or path.startswith("/static") or path in ("/logout",):
            continue
        r = c.get(path)
        out[path] = (r.status_code, r.text)
    return out


def test_a_run_works_in_its_engagement(clients: dict[str, Any], tmp_path: Path) -> None:
    from backoffice.runner import run_bot
    from tests.core.toybot import bot as toy_bot
    from tests.core.toybot import write_orders

    def started(store: Store) -> int:
        return len(audit.entries(store, action="run.started", limit=None))

    before = {k: started(clients[k]) for k in ("provider", "acme", "globex")}
    orders = write_orders(tmp_path / "orders.csv", 5, big=[2])
    inputs = {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}
    with use_engagement("globex"):
        summary = run_bot(toy_bot, inputs)
    assert summary.to_dict()["engagement"] == "globex"
    after = {k: started(clients[k]) for k in ("provider", "acme", "globex")}
    assert after == {**before, "globex": before["globex"] + 1}
    assert [i.bot for i in Queue(clients["globex"]).list(bot="toy", limit=None)]  # its exception is there
    assert not Queue(clients["acme"]).list(bot="toy", limit=None)


def test_the_providers_compliance_reviews_every_engagement_audited_in_each(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _cli(["engagements", "review", "--json", "-u", "cora"], capsys)
    assert code == 0, text
    rows = {r["engagement"]: r for r in json.loads(text)}
    assert set(rows) == {"default", "acme", "globex"} and all(r["chain_ok"] for r in rows.values())
    assert rows["acme"]["items"] == {"open": 3} and rows["globex"]["items"] == {"open": 2}
    assert rows["acme"]["users"] == {"admin": 1, "approver": 1, "associate": 1, "team_lead": 1}
    assert ACME_CODE not in text and GLOBEX_CODE not in text  # counts, never items
    for eng in ("acme", "globex"):
        (entry,) = audit.entries(clients[eng], action="engagement.reviewed", limit=None)
        assert entry["actor"] == "cora" and entry["role"] == "compliance"
    assert _cli(["engagements", "review", "-u", "root"], capsys)[0] == 3  # admins do not
    # a tampered chain of one client shows, and fails the review
    from sqlalchemy import update

    from backoffice.schema import audit as audit_table

    with clients["globex"].write() as conn:
        conn.execute(update(audit_table).where(audit_table.c.seq == 2).values(actor="mallory"))
    code, text = _cli(["engagements", "review", "-u", "cora"], capsys)
    assert code == 1 and "BAD at #2" in text


def test_an_evidence_pack_is_one_engagements(clients: dict[str, Any], tmp_path: Path) -> None:
    import zipfile

    from backoffice.audit.pack import export_pack

    acme = clients["acme"]
    assign_user(acme, "cora", "compliance", by="root")
    result = export_pack(acme, tmp_path / "acme.zip", user="cora")
    with zipfile.ZipFile(result.path) as z:
        manifest = json.loads(z.read("manifest.json"))
        entries = z.read("entries.jsonl").decode()
    assert manifest["engagement"] == "acme"
    assert ACME_CODE in entries and GLOBEX_CODE not in entries and "PROVIDER-RULE" not in entries
    with pytest.raises(PermissionDenied):
        export_pack(clients["globex"], tmp_path / "globex.zip", user="cora")  # not assigned to globex


def test_the_api_refuses_a_command_meant_for_another_engagement(clients: dict[str, Any]) -> None:
    from backoffice.inbox import create_app
    from backoffice.users import create_token

    acme = clients["acme"]
    _, secret = create_token(acme, "pat", "cli", days=1, auth="password")
    c = TestClient(create_app(acme, count_staleness=0), follow_redirects=False)
    auth = {"Authorization": f"Bearer {secret}"}
    ok = c.get("/api/v1/queue", headers={**auth, "X-Backoffice-Engagement": "acme"})
    assert ok.status_code == 200 and ACME_CODE in ok.text
    wrong = c.get("/api/v1/queue", headers={**auth, "X-Backoffice-Engagement": "globex"})
    assert wrong.status_code == 409 and "serves engagement 'acme', not 'globex'" in wrong.json()["error"]
    # a globex token is no token here
    _, theirs = create_token(clients["globex"], "gus", "cli", days=1, auth="password")
    assert c.get("/api/v1/queue", headers={"Authorization": f"Bearer {theirs}"}).status_code == 401


def test_offboarding_a_provider_user_ends_its_access_to_every_engagement(
    clients: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    acme, globex = clients["acme"], clients["globex"]
    add_user(acme, "cora", "compliance", by="al")  # acme's own cora, not the provider's
    code, text = _cli(["users", "deactivate", "pat", "--by", "root"], capsys)
    assert code == 0 and "pat deactivated in default, acme, globex" in text
    for s in (clients["provider"], acme, globex):
        with pytest.raises(NotFound):
            get_user(s, "pat")
        assert [e["actor"] for e in audit.entries(s, action="user.deactivated")] == ["root"]
    assert _cli(["queue", "list", "-e", "acme", "-u", "pat"], capsys)[0] == 3
    code, text = _cli(["users", "deactivate", "cora", "--by", "root"], capsys)
    assert code == 0 and "cora deactivated in default\n" in text.replace("\n\n", "\n")
    assert get_user(acme, "cora").role == "compliance"  # the client's own user stays
