"""Locust users for bench/load_inbox.py: associates who claim, read, correct and approve, and team
leads who read the pending approvals and check them (approve or refuse).

Started by bench/load_inbox.py as ``locust --headless -f bench/locustfile_inbox.py``; it reads
two environment variables set there:

- ``LOAD_ACCOUNTS``: a JSON file {"associate": [[name, password], ...], "team_lead": [...]}; each
  simulated user logs in once, as its own account (one per simulated user).
- ``LOAD_DECISIONS``: a directory; each simulated user appends one JSON line per decision the
  server confirmed (item, user, what the redirect said), which the driver compares with the
  audit log afterwards.

Every state-changing request carries the session's CSRF token and an ``Origin`` equal to the
server's. 409 (someone else got there first) and 404 on /queue/next (nothing to claim) are the
expected outcomes of contention, not failures; any other unexpected status is a failure.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import gevent
from locust import HttpUser, between, events, task

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ITEM_LINK = re.compile(r'<td><a href="/items/(\d+)">#')
ROOT_CAUSES = ("bad_source_data", "vendor_error", "master_data", "other")


class Accounts:
    """The accounts of one role, handed out one per simulated user (gevent: no lock needed)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.next = 0

    def take(self) -> tuple[str, str]:
        accounts = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text())[self.role]
        name, password = accounts[self.next % len(accounts)]
        self.next += 1
        return str(name), str(password)


class InboxUser(HttpUser):
    abstract = True
    wait_time = between(0.5, 2.0)
    accounts: Accounts

    def on_start(self) -> None:
        self.name, password = self.accounts.take()
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.host))
        self.client.headers.update({"Origin": origin, "Referer": origin + "/"})
        self.token = ""
        self.log = (Path(os.environ["LOAD_DECISIONS"]) / f"{self.name}.jsonl").open("a")
        self.login(password)

    def on_stop(self) -> None:
        self.log.close()

    # -- helpers --------------------------------------------------------------------------------
    def login(self, password: str) -> None:
        """Log in once. A 429 (the login throttle: every user of this load test logs in from
        127.0.0.1 within seconds) is waited out as its Retry-After says, as a person would, and
        counted apart as "POST /login (throttled)"."""
        for _ in range(8):
            self.page("/login", name="/login")
            with self.client.post(
                "/login",
                data={"csrf_token": self.token, "username": self.name, "password": password},
                allow_redirects=False,
                catch_response=True,
                name="POST /login",
            ) as r:
                if r.status_code == 303:
                    r.success()
                    self.page("/queue", name="/queue")
                    return
                if r.status_code != 429:
                    r.failure(f"login of {self.name} answered {r.status_code}")
                    raise RuntimeError(f"login of {self.name} failed: {r.status_code}")
                r.request_meta["name"] = "POST /login (throttled)"
                r.success()
                wait = float(r.headers.get("Retry-After") or 1)
            gevent.sleep(min(wait, 60.0))
        raise RuntimeError(f"login of {self.name} throttled 8 times")

    def page(self, url: str, *, name: str) -> str:
        """GET a page; keep the CSRF token it carries (a session may rotate it)."""
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"GET {url}: {r.status_code}")
                return ""
            m = CSRF.search(r.text)
            if m:
                self.token = m.group(1)
            r.success()
            return str(r.text)

    def post(self, url: str, *, name: str, ok: tuple[int, ...] = (), **data: Any) -> str | None:
        """POST a form; returns the redirect's target on 303, None on an expected refusal."""
        with self.client.post(
            url,
            data={"csrf_token": self.token, **data},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as r:
            location = str(r.headers.get("location", ""))
            if r.status_code == 303 and location.startswith("/items/"):
                r.success()
                return location
            if r.status_code in (409, *ok):
                r.success()  # contention: another user decided or claimed it first
                return None
            r.failure(f"POST {url}: {r.status_code} {r.text[:200]!r}")
            return None

    def record(self, item: int, location: str, step: str) -> None:
        done = parse_qs(urlsplit(location).query).get("done", [""])[0]
        self.log.write(json.dumps({"item": item, "user": self.name, "step": step, "done": done}) + "\n")
        self.log.flush()


class Associate(InboxUser):
    """Reads the queue, claims the most urgent item, reads it, corrects or approves it."""

    weight = 4
    accounts = Accounts("associate")

    @task(3)
    def work_next(self) -> None:
        self.page("/queue", name="/queue")
        target = self.post("/queue/next", name="POST /queue/next", ok=(404,))
        if not target:
            return
        item = int(urlsplit(target).path.rsplit("/", 1)[1])
        self.page(f"/items/{item}", name="/items/[id]")
        reason = "load test: checked against the source"
        if random.random() < 0.5:
            fields = {
                "set:amount": f"{random.randint(100, 999)}.00",
                "root_cause": random.choice(ROOT_CAUSES),
            }
            where = self.post(f"/items/{item}/correct", name="POST correct", reason=reason, **fields)
        else:
            where = self.post(f"/items/{item}/approve", name="POST approve (maker)", reason=reason)
        if where:
            self.record(item, where, "maker")

    @task(1)
    def browse(self) -> None:
        html = self.page(random.choice(("/queue?sort=newest", "/queue?status=open", "/queue")), name="/queue")
        ids = ITEM_LINK.findall(html)
        if ids:
            self.page(f"/items/{random.choice(ids)}", name="/items/[id]")


class TeamLead(InboxUser):
    """Reads the items waiting for approval and checks one: approve (mostly) or refuse."""

    weight = 1
    accounts = Accounts("team_lead")

    @task(4)
    def check_one(self) -> None:
        html = self.page("/queue?status=pending_approval", name="/queue?status=pending_approval")
        ids = ITEM_LINK.findall(html)
        if not ids:
            return
        item = int(random.choice(ids[:10]))
        self.page(f"/items/{item}", name="/items/[id]")
        decision = "approve" if random.random() < 0.9 else "reject"
        where = self.post(f"/items/{item}/{decision}", name=f"POST {decision} (checker)", reason="four eyes")
        if where:
            self.record(item, where, "checker")

    @task(1)
    def browse(self) -> None:
        self.page(random.choice(("/queue", "/queue?status=open&sort=age")), name="/queue")


@events.quitting.add_listener
def _exit_code(environment: Any, **_: Any) -> None:
    environment.process_exit_code = 0  # failures are judged by the driver from the CSV stats
