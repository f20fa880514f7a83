"""Notifications: SLA at risk and breached, escalations and failed runs, by e-mail and webhook.

The places where these things happen build a :class:`Notice` (:func:`item_notice`,
:func:`run_notice`) and hand it to :func:`notify` once their own change is committed:

- ``sla_at_risk`` / ``sla_breach``: the escalate-overdue maintenance (``Queue.escalate_overdue``,
  scheduled every 15 minutes by ``backoffice deploy``) finds queued items past their at-risk time
  or deadline (:mod:`backoffice.queue.sla_notices`);
- ``escalation``: ``Queue.escalate`` and the overdue escalation, after the item moved up a tier;
- ``run_failed``: a run that ends ``failed`` (``backoffice.runner.runs.bot_run``);
- ``incident``: a run stopped by a system failure opened an incident (``backoffice.incidents``).

Channels come from ``backoffice.settings`` (``notify_*``): e-mail through ``smtplib`` to
``notify_smtp_to`` (STARTTLS and login when set) and a JSON POST to each ``notify_webhook_urls``
with an ``X-Backoffice-Signature: sha256=<HMAC-SHA256 of the body>`` header when
``notify_webhook_secret`` is set. ``notify_events`` switches events on or off.

Rules:

- a notice carries no personal values: item id, bot, kind, status, tier, owner role, priority,
  deadline and rule codes, never payload values, titles or violation messages; a failed run's
  error text is masked (:func:`backoffice.pii.mask_text`, then every decimal number);
- each notice is sent once: its key (an SLA notice per item and deadline, an escalation per item
  and escalation count, a run failure per run) is claimed in the ``notices`` table first;
- each channel is retried with :func:`backoffice.retry.retry` (``notify_retries``, doubling from
  ``notify_retry_backoff_seconds``; a refused or unreachable server and HTTP 5xx/429 are
  transient, other 4xx and refused logins terminal);
- a delivery that fails in the end is logged and audited (``notify.failed``), and never breaks
  the action that caused it: :func:`notify` does not raise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import re
import smtplib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from backoffice.audit import AuditEntry, record
from backoffice.data_classes import PAY_MASK
from backoffice.errors import TerminalError, TransientError
from backoffice.pii import mask_text
from backoffice.retry import RetryPolicy, retry
from backoffice.schema import notices
from backoffice.settings import Settings
from backoffice.store import Store

__all__ = [
    "ACTOR",
    "EVENTS",
    "SIGNATURE_HEADER",
    "Channel",
    "Notice",
    "SmtpChannel",
    "WebhookChannel",
    "already_sent",
    "channels_from_settings",
    "enabled_events",
    "item_notice",
    "notify",
    "run_notice",
    "sign",
]

log = logging.getLogger("backoffice.notify")

EVENTS = ("sla_at_risk", "sla_breach", "escalation", "run_failed", "incident")
ACTOR = "system:notify"
SIGNATURE_HEADER = "X-Backoffice-Signature"
_TITLES = {
    "sla_at_risk": "SLA at risk",
    "sla_breach": "SLA breached",
    "escalation": "Escalated",
    "run_failed": "Run failed",
    "incident": "Incident opened",
}
_ITEM_FIELDS = ("bot", "kind", "status", "tier", "owner_role", "priority", "assignee", "escalations")
_DECIMAL = re.compile(r"\d+(?:[.,']\d+)+")


@dataclass(frozen=True)
class Notice:
    """One notification: ``event`` (one of EVENTS), ``subject`` (``item:12``, ``run:<id>``), a
    one-line ``title``, masked ``facts`` and the ``key`` that makes it sent once."""

    event: str
    subject: str
    title: str
    key: str
    facts: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "subject": self.subject,
            "title": self.title,
            "at": self.at.isoformat(),
            **self.facts,
        }

    def body(self) -> bytes:
        """The webhook body: canonical JSON (sorted keys), the bytes the signature covers."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), default=str).encode()

    def text(self) -> str:
        """The e-mail body: the title, then one ``name: value`` line per fact."""
        lines = [self.title, ""]
        for name, value in self.to_json().items():
            if name != "title":
                lines.append(f"{name}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
        return "\n".join(lines) + "\n"


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return None if value is None else str(value)


def item_notice(event: str, row: Mapping[str, Any]) -> Notice:
    """The notice of ``event`` about a queue item (a row of ``items``): what the queue shows of it
    in a list, masked (no payload, no title, no violation message: codes only)."""
    codes = sorted({str(v.get("code")) for v in row.get("violations") or () if isinstance(v, Mapping)})
    item_id = int(row["id"])
    facts: dict[str, Any] = {"item_id": item_id}
    facts.update({name: row.get(name) for name in _ITEM_FIELDS if name in row})
    facts["due_at"] = _iso(row.get("due_at"))
    facts["codes"] = codes
    if row.get("decision_owner"):  # from the ownership register: who must respond, and by when
        facts["decision_owner"] = row["decision_owner"]
        facts["response_due"] = _iso(row.get("response_due"))
    if event in ("sla_at_risk", "sla_breach"):
        key = f"{event}:item:{item_id}:{facts['due_at']}"
    elif event == "escalation":
        key = f"{event}:item:{item_id}:{row.get('escalations')}"
    else:
        key = f"{event}:item:{item_id}:{datetime.now(UTC).isoformat()}"
    detail = f" to {row.get('tier')}" if event == "escalation" else ""
    title = f"{_TITLES.get(event, event)}{detail}: item {item_id} ({row.get('bot')}; {', '.join(codes) or 'no code'})"
    return Notice(event, f"item:{item_id}", title, key, facts)


def _masked(text: str) -> str:
    return _DECIMAL.sub(PAY_MASK, mask_text(text))


def run_notice(
    run_id: str, bot: str, error: BaseException | None, summary: Mapping[str, Any] | None = None
) -> Notice:
    """The notice of a failed run: its id, bot, the error's type and masked message, and the
    summary's counts."""
    facts: dict[str, Any] = {"run_id": run_id, "bot": bot}
    if error is not None:
        facts["error"] = type(error).__name__
        facts["message"] = _masked(str(error))[:500]
    for name in ("total", "done", "queued", "failed", "skipped"):
        if summary is not None and name in summary:
            facts[name] = summary[name]
    title = f"Run failed: {bot} run {run_id}" + (f" ({facts['error']})" if error is not None else "")
    return Notice("run_failed", f"run:{run_id}", title, f"run_failed:run:{run_id}", facts)


# --------------------------------------------------------------------------------- channels


class Channel(Protocol):
    """Where notices go. ``send`` raises TransientError (worth retrying) or TerminalError."""

    @property
    def name(self) -> str: ...

    def send(self, notice: Notice) -> None: ...


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC-SHA256 of the body with the secret>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebhookChannel:
    """A JSON POST of the notice to ``url``, signed with ``secret`` when there is one."""

    url: str
    secret: str | None = None
    timeout: float = 5.0
    transport: httpx.BaseTransport | None = None

    @property
    def name(self) -> str:
        return f"webhook:{httpx.URL(self.url).host}"

    def send(self, notice: Notice) -> None:
        body = notice.body()
        headers = {"Content-Type": "application/json", "X-Backoffice-Event": notice.event}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"{self.name}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise TerminalError(f"{self.name}: HTTP {response.status_code}")


@dataclass(frozen=True)
class SmtpChannel:
    """An e-mail of the notice to ``to`` through the SMTP server at ``host``:``port``."""

    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    timeout: float = 5.0

    @property
    def name(self) -> str:
        return f"smtp:{self.host}:{self.port}"

    def send(self, notice: Notice) -> None:
        message = EmailMessage()
        message["Subject"] = f"[backoffice] {notice.title}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["X-Backoffice-Event"] = notice.event
        message.set_content(notice.text())
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except (
            smtplib.SMTPAuthenticationError,
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
        ) as exc:
            raise TerminalError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"{self.name}: {type(exc).__name__}: {exc}") from None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def enabled_events(settings: Settings) -> set[str]:
    return {e for e in _split(settings.notify_events) if e in EVENTS}


def channels_from_settings(settings: Settings) -> list[Channel]:
    """The channels the settings configure: SMTP when a host and recipients are set, one webhook
    per URL."""
    out: list[Channel] = []
    to = tuple(_split(settings.notify_smtp_to))
    if settings.notify_smtp_host and to:
        out.append(
            SmtpChannel(
                settings.notify_smtp_host,
                settings.notify_smtp_port,
                settings.notify_smtp_from,
                to,
                starttls=settings.notify_smtp_starttls,
                user=settings.notify_smtp_user,
                password=settings.notify_smtp_password.get_secret_value()
                if settings.notify_smtp_password
                else None,
                timeout=settings.notify_timeout_seconds,
            )
        )
    secret = settings.notify_webhook_secret.get_secret_value() if settings.notify_webhook_secret else None
    for url in _split(settings.notify_webhook_urls):
        out.append(WebhookChannel(url, secret, settings.notify_timeout_seconds))
    return out


# ----------------------------------------------------------------------------------- sending


def _claim(store: Store, notice: Notice) -> int | None:
    """Insert the notice's row; None when its key was claimed before (already notified)."""
    try:
        with store.write() as conn:
            result = conn.execute(
                insert(notices).values(
                    key=notice.key[:200],
                    event=notice.event,
                    subject=notice.subject,
                    created_at=notice.at,
                    outcome="sending",
                )
            )
            key = result.inserted_primary_key
            return int(key[0]) if key else None
    except IntegrityError:
        return None


def already_sent(store: Store, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` were claimed before."""
    found: set[str] = set()
    with store.read() as conn:
        for start in range(0, len(keys), 500):
            chunk = [k[:200] for k in keys[start : start + 500]]
            found |= {r.key for r in conn.execute(select(notices.c.key).where(notices.c.key.in_(chunk)))}
    return found


def _deliver(
    store: Store,
    notice: Notice,
    channels: Sequence[Channel],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
) -> None:
    row_id = _claim(store, notice)
    if row_id is None:
        return
    results: dict[str, str] = {}
    for channel in channels:
        try:
            retry(lambda channel=channel: channel.send(notice), policy, sleep=sleep)  # type: ignore[misc]
            results[channel.name] = "sent"
        except Exception as exc:
            results[channel.name] = f"failed: {_masked(str(exc))[:300]}"
            log.warning(
                "notification %s (%s) to %s failed: %s", notice.event, notice.subject, channel.name, exc
            )
    failed = [name for name, result in results.items() if result != "sent"]
    outcome = "failed" if failed else "sent"
    with store.write() as conn:
        conn.execute(update(notices).where(notices.c.id == row_id).values(outcome=outcome, channels=results))
    if failed:
        record(
            store,
            AuditEntry(
                actor=ACTOR,
                role="system",
                action="notify.failed",
                subject=notice.subject,
                data={"event": notice.event, "key": notice.key, "channels": results},
                outcome="failed",
            ),
        )


def notify(
    store: Store,
    items: Iterable[Notice],
    *,
    channels: Sequence[Channel] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send each notice whose event is switched on to every channel, once per key. Never raises:
    a delivery that fails is retried, then logged and audited (``notify.failed``)."""
    try:
        settings = store.settings
        chosen = list(channels) if channels is not None else channels_from_settings(settings)
        wanted = enabled_events(settings)
        if not chosen or not wanted:
            return
        policy = RetryPolicy(
            attempts=settings.notify_retries + 1,
            backoff=settings.notify_retry_backoff_seconds,
            max_delay=None,
        )
        for notice in items:
            if notice.event not in wanted:
                continue
            if store.engagement != "default":  # whose: the channels are shared by every engagement
                notice = dataclasses.replace(
                    notice,
                    title=f"[{store.engagement}] {notice.title}",
                    facts={"engagement": store.engagement, **notice.facts},
                )
            try:
                _deliver(store, notice, chosen, policy, sleep)
            except Exception:
                log.exception("notification %s (%s) could not be recorded", notice.event, notice.subject)
    except Exception:
        log.exception("notifications could not be sent")
