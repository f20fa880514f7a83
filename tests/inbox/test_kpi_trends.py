"""The KPI page over time: daily straight-through rate, backlog and SLA attainment and the
period's exceptions by rule (most first), for a chosen period, on a store whose history spans
several days; and the page as a person sees it in Chromium."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.core.test_trends import seed_history
from tests.inbox.conftest import login, make_client
from tests.inbox.test_e2e import _login, _page, browser, server  # noqa: F401 - fixtures


def _columns(html: str, chart: str) -> dict[str, float]:
    svg = re.search(rf'<svg class="chart series" id="trend-{chart}".*?</svg>', html, re.S)
    assert svg, f"no {chart} chart"
    return {d: float(v) for d, v in re.findall(r'data-day="([^"]+)" data-value="([^"]+)"', svg.group(0))}


def _rules(html: str) -> list[str]:
    svg = re.search(r'<svg class="chart" id="trend-by_rule".*?</svg>', html, re.S)
    assert svg
    return re.findall(r"<title>([A-Z-]+): ", svg.group(0))


def test_kpi_page_draws_the_daily_series_for_the_chosen_period(bo_store, bo_users, tmp_path):
    seeded = seed_history(bo_store, tmp_path)
    today = seeded["today"]
    day = {k: (today - timedelta(days=k)).isoformat() for k in range(6)}
    c = make_client(bo_store)
    login(c, "team_lead")

    page = c.get("/kpis", params={"days": "7"})
    assert page.status_code == 200
    html = page.text
    assert f"{day[0]}" in html and f"{(today - timedelta(days=6)).isoformat()} to {day[0]}" in html
    assert _columns(html, "straight_through") == {day[3]: 70.0, day[1]: 62.5}  # days with items only
    backlog = _columns(html, "backlog")
    assert [backlog.get(day[k], 0.0) for k in (3, 2, 1, 0)] == [2.0, 2.0, 5.0, 4.0]
    assert _columns(html, "sla") == {day[3]: 100.0, day[0]: 0.0}
    assert _rules(html) == ["TOY-LIMIT", "INPUT"]  # sorted by count: 5 items, then 1
    assert "TOY-LIMIT: 5 (27.78 %)" in html
    assert (
        f'<tr data-day="{day[3]}"><td>{day[3]}</td><td class="num">10</td><td class="num">70.0</td>' in html
    )
    assert 'name="basis" value="days"' in html and '<option value="7" selected>' in html

    # from/to dates: just the last two days; day -3's INPUT is outside the period
    page = c.get("/kpis", params={"from": day[1], "to": day[0], "basis": "days", "days": "7"})
    assert page.status_code == 200
    assert set(_columns(page.text, "backlog")) == {day[1], day[0]}
    assert _rules(page.text) == ["TOY-LIMIT"]
    assert 'name="basis" value="dates"' in page.text and f'id="period-from" value="{day[1]}"' in page.text
    # from a dates page, choosing "last N days" wins over the dates still in the form
    page = c.get("/kpis", params={"from": day[1], "to": day[0], "basis": "dates", "days": "90"})
    assert len(re.findall(r'<tr data-day="', page.text)) == 90
    # one bot's figures; a period the form cannot mean is refused with the default shown
    assert _rules(c.get("/kpis", params={"bot": "toy", "days": "7"}).text) == ["TOY-LIMIT", "INPUT"]
    bad = c.get("/kpis", params={"from": "2026-13-01", "basis": "days"})
    assert bad.status_code == 400 and "the start date must be YYYY-MM-DD" in bad.text
    assert len(re.findall(r'<tr data-day="', bad.text)) == 30
    long = c.get("/kpis", params={"from": "2020-01-01", "to": day[0]})
    assert long.status_code == 400 and "at most 366 days" in long.text


@pytest.mark.browser
def test_kpi_trends_in_chromium(server, browser, bo_store, tmp_path, artifacts: Path):  # noqa: F811
    today = seed_history(bo_store, tmp_path)["today"].isoformat()
    page = _page(browser, server)
    _login(page, "team_lead")
    page.wait_for_url("**/queue")
    page.goto("/kpis")
    page.select_option("#period-days", "7")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**days=7**")
    trends = page.locator("#trends")
    trends.scroll_into_view_if_needed()
    for chart in ("straight_through", "backlog", "sla", "by_rule"):
        box = page.locator(f"#trend-{chart}").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80, chart
    assert page.locator("#trend-backlog rect.bar").count() == 7  # one column a day
    labels = [t.strip() for t in page.locator("#trend-by_rule text").all_text_contents()]
    assert labels.index("TOY-LIMIT") < labels.index("INPUT")
    trends.screenshot(path=str(artifacts / "kpi-trends.png"))
    page.screenshot(path=str(artifacts / "kpi-page.png"))
    # the dates: choose "from – to" and one day
    page.select_option("#period-days", "")
    assert page.locator("#period-to").input_value() == ""  # a "last N days" page leaves them empty
    page.fill("#period-from", today)
    page.fill("#period-to", today)
    page.click(".filters button[type=submit]")
    page.wait_for_url("**from=**")
    assert page.locator("#trend-table tbody tr").count() == 1
    assert page.locator("#period-from").input_value() == today
