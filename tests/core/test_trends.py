"""KPIs over time (backoffice.queue.trends): daily series grouped by UTC day in SQL, on a store
whose history spans several days (real toy-bot runs and real decisions, then moved back in time
as a store that has been in use for days would hold them), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from backoffice.errors import InputError
from backoffice.queue import Queue
from backoffice.queue.trends import MAX_DAYS, Period, daily
from backoffice.runner import run_bot
from backoffice.schema import item_rounds, item_violations, items
from backoffice.store import Store, utcnow
from tests.core.toybot import bot as toy
from tests.core.toybot import write_orders

_ITEM_TIMES = ("created_at", "updated_at", "queued_at", "resolved_at", "due_at", "at_risk_at", "lease_until")
_ROUND_TIMES = ("queued_at", "first_claimed_at", "decided_at")


def backdate(store: Store, ids: list[int], days: int) -> None:
    """Move every time of these items, their rounds and their violations ``days`` days back."""
    shift = timedelta(days=days)
    with store.write() as conn:
        for table, cols, key in (
            (items, _ITEM_TIMES, items.c.id),
            (item_rounds, _ROUND_TIMES, item_rounds.c.item_id),
            (item_violations, ("recorded_at",), item_violations.c.item_id),
        ):
            rows = conn.execute(select(table.c.id, *[table.c[c] for c in cols]).where(key.in_(ids))).all()
            for row in rows:
                values = {c: getattr(row, c) - shift for c in cols if getattr(row, c) is not None}
                conn.execute(update(table).where(table.c.id == row.id).values(**values))


def _run(store: Store, folder: Path, name: str, n: int, big: list[int], bad: list[int]) -> list[int]:
    """A real toy-bot run; the ids of all its items."""
    orders = write_orders(folder / f"{name}.csv", n, big=big, bad_rows=bad)
    summary = run_bot(toy, {"orders": str(orders), "ledger": str(folder / f"{name}.jsonl")}, store=store)
    with store.read() as conn:
        return [
            int(i) for i in conn.execute(select(items.c.id).where(items.c.run_id == summary.run_id)).scalars()
        ]


def seed_history(store: Store, folder: Path) -> dict[str, Any]:
    """Three days of work, today being day 0:

    - day -3: 10 orders, 2 above the limit (TOY-LIMIT) and 1 unreadable (INPUT) queued, 7 straight
      through; one TOY-LIMIT item rejected the same day, within its 4 h SLA;
    - day -1: 8 orders, 3 above the limit queued, 5 straight through;
    - today: one of day -1's items rejected, past its SLA (due yesterday).
    """
    q = Queue(store)
    first = _run(store, folder, "day3", 10, big=[2, 5], bad=[7])
    limit3 = [i for i in first if "TOY-LIMIT" in (q.get(i).row["codes"] or "")]
    q.claim(limit3[0], "associate")
    assert q.resolve(limit3[0], "associate", "reject", "duplicate order").status == "resolved"
    backdate(store, first, 3)
    second = _run(store, folder, "day1", 8, big=[1, 2, 3], bad=[])
    backdate(store, second, 1)
    limit1 = [i for i in second if "TOY-LIMIT" in (q.get(i).row["codes"] or "")]
    q.claim(limit1[0], "associate")
    assert q.resolve(limit1[0], "associate", "reject", "customer cancelled").status == "resolved"
    return {"today": utcnow().date(), "first": first, "second": second}


def _check(store: Store, seeded: dict[str, Any]) -> None:
    today = seeded["today"]
    trend = daily(store, Period.last_days(5, today=today))
    days = {d["day"]: d for d in trend["days"]}
    assert list(days) == [(today - timedelta(days=k)).isoformat() for k in (4, 3, 2, 1, 0)]

    def on(k: int) -> dict[str, Any]:
        return days[(today - timedelta(days=k)).isoformat()]

    assert (on(4)["processed"], on(4)["straight_through_rate"], on(4)["backlog"]) == (0, None, 0)
    assert (on(3)["processed"], on(3)["straight_through"], on(3)["straight_through_rate"]) == (10, 7, 70.0)
    assert (on(3)["exceptions"], on(3)["exception_rate"]) == (3, 30.0)
    assert (on(3)["decided"], on(3)["within_sla"], on(3)["sla_attainment"]) == (1, 1, 100.0)
    assert [on(k)["backlog"] for k in (3, 2, 1, 0)] == [2, 2, 5, 4]  # 3 in - 1 out; +3; -1
    assert (on(1)["processed"], on(1)["straight_through_rate"]) == (8, 62.5)
    assert (on(0)["decided"], on(0)["within_sla"], on(0)["sla_attainment"]) == (1, 0, 0.0)
    assert on(2)["sla_attainment"] is None  # nothing decided that day
    assert trend["processed"] == 18 and trend["straight_through_rate"] == round(100 * 12 / 18, 2)
    assert trend["sla_attainment"] == 50.0
    # by rule over the period, most first, as a share of the items processed in it
    assert trend["by_code"] == [
        {"code": "TOY-LIMIT", "items": 5, "percent": round(100 * 5 / 18, 2)},
        {"code": "INPUT", "items": 1, "percent": round(100 * 1 / 18, 2)},
    ]
    # the backlog today is what the queue holds
    assert on(0)["backlog"] == Queue(store).stats()["queued"]

    # a shorter period starts from the backlog before it; another bot's period is empty
    short = daily(store, Period(today - timedelta(days=1), today))
    assert [d["backlog"] for d in short["days"]] == [5, 4]
    assert [b["code"] for b in short["by_code"]] == ["TOY-LIMIT"]  # day -3's INPUT is outside
    other = daily(store, Period.last_days(5, today=today), bot="someone-else")
    assert other["processed"] == 0 and other["by_code"] == [] and {d["backlog"] for d in other["days"]} == {0}
    assert daily(store, Period.last_days(5, today=today), bot="toy")["days"] == trend["days"]


def test_daily_series_over_a_store_spanning_several_days(bo_store, bo_users, tmp_path):
    _check(bo_store, seed_history(bo_store, tmp_path))


@pytest.mark.slow
def test_daily_series_on_postgresql(pg_url, tmp_path):
    from backoffice.testing import TEST_USERS
    from backoffice.users import add_user

    store = Store.open()
    assert not store.is_sqlite
    for name, role in TEST_USERS.items():
        add_user(store, name, role, password=f"{name}-password")
    _check(store, seed_history(store, tmp_path))


def test_a_period_is_whole_days_given_as_dates_or_a_number_of_days():
    today = date(2026, 3, 31)
    assert Period.parse("", "", "", today=today) == Period(date(2026, 3, 2), today)  # 30 days
    assert Period.parse(None, None, "7", today=today) == Period(date(2026, 3, 25), today)
    assert Period.parse("2026-02-01", "2026-02-28", "7", today=today) == Period(
        date(2026, 2, 1), date(2026, 2, 28)
    )
    assert Period.parse("", "2026-02-28", "", today=today).first == date(2026, 1, 30)
    assert Period.parse("2026-03-20", "", "", today=today).last == today
    p = Period(date(2026, 2, 27), date(2026, 3, 1))
    assert [d.isoformat() for d in p.days()] == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert p.since.isoformat() == "2026-02-27T00:00:00+00:00"
    assert p.until.isoformat() == "2026-03-02T00:00:00+00:00"
    for bad in (("2026-02-30", "", ""), ("", "", "x"), ("", "", "0"), ("2026-03-01", "2026-02-01", "")):
        with pytest.raises(InputError):
            Period.parse(*bad, today=today)
    with pytest.raises(InputError, match=f"at most {MAX_DAYS} days"):
        Period(date(2024, 1, 1), date(2025, 6, 1))


def test_queue_trends_prints_the_same_series(bo_store, bo_users, tmp_path, capsys):
    import json

    from backoffice.cli import main

    seeded = seed_history(bo_store, tmp_path)
    today = seeded["today"]
    assert main(["queue", "trends", "--days", "5", "--json", "--user", "team_lead"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(daily(bo_store, Period.last_days(5, today=today))))
    since = (today - timedelta(days=1)).isoformat()
    assert main(["queue", "trends", "--from", since, "--user", "team_lead"]) == 0
    table = capsys.readouterr().out
    assert since in table and "TOY-LIMIT" in table and "INPUT" not in table
    assert main(["queue", "trends", "--from", "someday", "--user", "team_lead"]) != 0
    refused = capsys.readouterr()
    assert "YYYY-MM-DD" in refused.err + refused.out
