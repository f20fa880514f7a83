"""Data-entry bot: spreadsheet rows typed into a back-office web app, with read-back and evidence.

Steps (see README.md):

1. ``read``: one item per xlsx row; idempotency key = hash(file sha256, row id, target URL).
   Unreadable cells become items that go straight to the queue (code ``INPUT``).
2. ``context``: the target's vendor master and currencies, read once per run over HTTP.
3. The runner validates each row (``InvoiceRow``) and applies ``RULES`` before anything is typed.
4. ``act`` (one browser and one page per batch): for each row search the target for its key;
   if found, read that record back, else type the form, save and read the record back; compare
   field by field; screenshot the record (IBAN blacked out) as evidence. Timeouts, 5xx and
   missing elements are retried with backoff (searching again first, so a save that answered
   with an error is never typed twice), then queued as system exceptions with a screenshot and
   the page HTML.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

from backoffice.errors import ConfigError, ConnectorError, InputError, TerminalError, TransientError
from backoffice.items import EvidenceRef, Item, SourceRef, file_sha256, make_key
from backoffice.rules import RuleSet, Violation
from backoffice.runner import Outcome, RunContext
from bots.data_entry.models import COLUMNS, InvoiceRow
from bots.data_entry.rules import RULES, DataEntryContext
from connectors.erp import ErpApp, ErpHttp, FormRejected, InvoiceForm, SavedRecord
from connectors.excel import Row, read_table
from connectors.web import Credentials, LoginFailed, RetryPolicy, WebSession, retry

__all__ = ["DataEntryBot", "bot", "compare_fields", "normalise_target", "resolve_credentials", "to_form"]

log = logging.getLogger("bots.data_entry")

ENV_PREFIX = "BACKOFFICE_ERP"  # BACKOFFICE_ERP_USER / BACKOFFICE_ERP_PASSWORD
AMOUNT_FIELDS = ("net_amount", "tax_amount", "gross_amount")
DATE_FIELDS = ("invoice_date", "due_date")


def normalise_target(url: str) -> str:
    """``HTTP://Host:80/app/`` -> ``http://host:80/app``: the same target always gives the same keys."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"target must be an http(s) URL, got {url!r}")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def resolve_credentials(block: str | None = None) -> Credentials:
    """Target credentials from BACKOFFICE_ERP_USER/_PASSWORD, else from a Prefect Secret block.

    The block holds ``{"user": ..., "password": ...}`` (or just the password, with the user in
    BACKOFFICE_ERP_USER). Credentials are never part of the run inputs, so they never reach the
    store, the audit log or Prefect's parameters.
    """
    env = Credentials.from_env(ENV_PREFIX)
    if env is not None:
        return env
    if block:
        from prefect.blocks.system import Secret

        try:
            secret: Any = Secret.load(block)  # sync outside an event loop
            value: Any = secret.get()
        except Exception as exc:
            raise ConfigError(
                f"could not load the Prefect Secret block {block!r}: {type(exc).__name__}"
            ) from exc
        if isinstance(value, dict) and value.get("user") and value.get("password"):
            return Credentials.of(str(value["user"]), str(value["password"]))
        user = os.environ.get(f"{ENV_PREFIX}_USER")
        if isinstance(value, str) and value and user:
            return Credentials.of(user, value)
        raise ConfigError(
            f"the Prefect Secret block {block!r} must hold {{'user': ..., 'password': ...}} "
            f"(or a password, with {ENV_PREFIX}_USER set)"
        )
    raise ConfigError(
        f"no credentials for the target: set {ENV_PREFIX}_USER and {ENV_PREFIX}_PASSWORD, or name a "
        "Prefect Secret block holding {'user': ..., 'password': ...} (--credentials-block)"
    )


def to_form(row: InvoiceRow, key: str) -> InvoiceForm:
    return InvoiceForm(
        vendor_no=row.vendor_no,
        invoice_no=row.invoice_no,
        invoice_date=row.invoice_date,
        due_date=row.due_date,
        currency=row.currency,
        net_amount=row.net_amount,
        tax_amount=row.tax_amount,
        gross_amount=row.gross_amount,
        po_number=row.po_number,
        description=row.description,
        external_ref=key,
    )


def _same(field: str, expected: str, actual: str) -> bool:
    if field in AMOUNT_FIELDS and expected and actual:
        try:
            return Decimal(expected) == Decimal(actual.replace(",", ""))
        except InvalidOperation:
            return False
    if field in DATE_FIELDS and expected and actual:
        try:
            return date.fromisoformat(expected) == date.fromisoformat(actual)
        except ValueError:
            return False
    return expected.strip() == actual.strip()


def compare_fields(expected: dict[str, str], actual: dict[str, str]) -> list[Violation]:
    """One DE-READBACK violation per field whose saved value differs from what was typed."""
    out: list[Violation] = []
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            out.append(
                Violation(
                    code="DE-READBACK",
                    message=f"{name} is not shown on the saved record",
                    field=name,
                    expected=want,
                    actual=None,
                )
            )
        elif not _same(name, want, got):
            out.append(
                Violation(
                    code="DE-READBACK",
                    message=f"{name} was saved as {got!r}, typed {want!r}",
                    field=name,
                    expected=want,
                    actual=got,
                )
            )
    return out


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _outcome(key: str, *, system: bool = False, **kw: Any) -> Outcome:
    """An Outcome; failures of the target (not of the row) are system exceptions."""
    return Outcome(key=key, kind="system" if system else "business", **kw)


class DataEntryBot:
    """Types supplier invoices from an xlsx into the target's "New invoice" form."""

    name: str = "data-entry"
    model: type[BaseModel] = InvoiceRow
    ruleset: RuleSet = RULES

    # -- read -----------------------------------------------------------------------------------
    def read(self, inputs: dict[str, Any], run: RunContext) -> Iterator[Item]:
        path = Path(str(inputs["input"]))
        if not path.is_file():
            raise InputError("input file not found", file=str(path))
        sha = file_sha256(path)
        target = normalise_target(str(inputs["target"]))
        seen_ids: dict[str, int] = {}
        rows = read_table(
            path, COLUMNS, key=("vendor_no", "invoice_no"), on_error="collect", file_label=str(path)
        )
        for row in rows:
            yield self._item(row, path, sha, target, seen_ids)

    def _item(self, row: Row, path: Path, sha: str, target: str, seen_ids: dict[str, int]) -> Item:
        given = row.get("row_id")
        row_id = str(given).strip() if given not in (None, "") else str(row.number)
        errors: list[InputError] = list(row.errors)
        if row_id in seen_ids:
            errors.append(
                InputError(
                    f"row id {row_id!r} already used in row {seen_ids[row_id]}",
                    file=str(path),
                    sheet=row.sheet,
                    row=row.number,
                    column="row_id",
                    code="INPUT-DUPLICATE",
                )
            )
            row_id = f"{row_id}@row{row.number}"  # keep the item distinct so it is not lost
        seen_ids.setdefault(row_id, row.number)
        key = make_key(sha, row_id, target)
        payload = {"row_id": row_id, **{k: _text(row.get(k)) for k in COLUMNS if k != "row_id"}}
        source = SourceRef(file=str(path), locator=row.locator, sha256=sha)
        if errors:
            item = Item.from_input_error(self.name, key, errors[0], source, payload=payload)
            for err in errors[1:]:
                item.violations.append(
                    Violation(code=err.code or "INPUT", message=err.describe(), field=err.field or err.column)
                )
            return item
        gross = row.get("gross_amount")
        return Item(
            bot=self.name,
            key=key,
            payload=payload,
            source=source,
            amount=gross if isinstance(gross, Decimal) else None,
            currency=row.get("currency"),
        )

    # -- context --------------------------------------------------------------------------------
    def context(self, inputs: dict[str, Any], run: RunContext) -> DataEntryContext:
        target = normalise_target(str(inputs["target"]))
        creds = resolve_credentials(inputs.get("credentials_block"))
        policy = self._policy(run)
        with ErpHttp(target, creds) as http:
            vendors = retry(http.vendors, policy)
            currencies = retry(http.currencies, policy)
        return DataEntryContext(
            target=target,
            vendors=vendors,
            currencies=currencies,
            today=datetime.now(UTC).date(),
            max_future_days=int(RULES.params["max_future_days"]),
        )

    @staticmethod
    def _policy(run: RunContext) -> RetryPolicy:
        s = run.settings
        return RetryPolicy(attempts=s.retries + 1, backoff=s.retry_backoff_seconds)

    # -- act ------------------------------------------------------------------------------------
    def act(self, items: list[Item], ctx: DataEntryContext, run: RunContext) -> list[Outcome]:
        creds = resolve_credentials(run.inputs.get("credentials_block"))
        policy = self._policy(run)
        try:
            web = WebSession.open(
                ctx.target,
                headless=bool(run.inputs.get("headless", True)),
                timeout_ms=float(run.inputs.get("timeout_ms", 5_000)),
                navigation_timeout_ms=float(run.inputs.get("navigation_timeout_ms", 15_000)),
            )
        except ConfigError as exc:
            raise TerminalError(f"no browser for data entry: {exc}") from exc
        try:
            erp = ErpApp(web, creds)
            try:
                retry(erp.login, policy)
            except (LoginFailed, TransientError) as exc:
                evidence = self._capture(run, web, "login-failed")
                v = Violation(code="DE-LOGIN", message=str(exc))
                return [
                    _outcome(it.key, system=True, ok=False, violations=[v], evidence=evidence) for it in items
                ]
            with ErpHttp(ctx.target, creds) as search:
                return [self._enter(erp, search, it, run, policy) for it in items]
        finally:
            web.close()

    def _enter(self, erp: ErpApp, search: ErpHttp, it: Item, run: RunContext, policy: RetryPolicy) -> Outcome:
        row = it.parsed if isinstance(it.parsed, InvoiceRow) else InvoiceRow.model_validate(it.payload)
        form = to_form(row, it.key)
        attempts = 0

        def attempt() -> tuple[SavedRecord, bool]:
            nonlocal attempts
            attempts += 1
            # Always search first: after a timeout or a 5xx on save the record may exist already.
            # (The search page is read over plain HTTP: same answer, no browser round trip.)
            hits = [h for h in search.find_invoices(it.key) if h.external_ref == it.key]
            if len(hits) > 1:
                raise _Duplicates([h.id for h in hits])
            if hits:
                return erp.open_invoice(hits[0].id), True
            try:
                return erp.create_invoice(form), False
            except FormRejected as exc:
                if set(exc.errors) == {"external_ref"}:  # saved meanwhile: search again
                    raise TransientError(f"reference already in use: {exc.errors['external_ref']}") from exc
                raise

        def on_retry(n: int, exc: BaseException) -> None:
            log.info(
                "row %s: attempt %d failed (%s), searching again before retrying",
                row.row_id,
                n,
                erp.web.redact(str(exc)),
            )

        try:
            record, existed = retry(attempt, policy, on_retry=on_retry)
            shot = retry(erp.record_screenshot, policy)
        except FormRejected as exc:
            return self._rejected(it, form, exc, run, erp)
        except _Duplicates as exc:
            v = Violation(
                code="DE-DUPLICATE",
                message=f"the target holds {len(exc.ids)} records with this key",
                field="external_ref",
                expected="1 record",
                actual=[f"#{i}" for i in exc.ids],
            )
            return _outcome(it.key, ok=False, violations=[v], evidence=self._capture(run, erp.web, it.key))
        except ConnectorError as exc:
            evidence = self._capture(run, erp.web, f"{it.key[:12]}-failed")
            v = Violation(
                code="DE-SYSTEM",
                message=f"after {attempts} attempt(s): {erp.web.redact(str(exc))}",
                actual=type(exc).__name__,
            )
            return _outcome(it.key, system=True, ok=False, violations=[v], evidence=evidence)
        ev = run.store_evidence(shot, f"data-entry/{it.key[:12]}-record-{record.id}.png", "image/png")
        base_url = record.url.split("?", 1)[0]
        result = {
            "target_id": record.id,
            "target_url": base_url,
            "existed": existed,
            "attempts": attempts,
            "row_id": row.row_id,
        }
        diffs = compare_fields(form.as_text(), record.fields)
        if diffs:
            return _outcome(it.key, ok=False, violations=diffs, evidence=[ev], result=result)
        return _outcome(it.key, ok=True, evidence=[ev], result=result, action="invoice.entered")

    def _rejected(
        self, it: Item, form: InvoiceForm, exc: FormRejected, run: RunContext, erp: ErpApp
    ) -> Outcome:
        typed = form.as_text()
        violations = []
        for name, message in exc.errors.items():
            dup = name == "invoice_no" and "already exists" in message
            violations.append(
                Violation(
                    code="DE-DUPLICATE" if dup else "DE-REJECTED",
                    message=f"target refused {name}: {message}",
                    field=name,
                    actual=typed.get(name),
                )
            )
        return _outcome(
            it.key, ok=False, violations=violations, evidence=self._capture(run, erp.web, it.key[:12])
        )

    @staticmethod
    def _capture(run: RunContext, web: WebSession, label: str) -> list[EvidenceRef]:
        cap = web.capture(label)
        out = [run.store_evidence(cap.html.encode("utf-8"), f"data-entry/{label}.html", "text/html")]
        if cap.screenshot is not None:
            out.append(run.store_evidence(cap.screenshot, f"data-entry/{label}.png", "image/png"))
        return out


class _Duplicates(TerminalError):
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        super().__init__(f"{len(ids)} records share one key: {ids}")


bot = DataEntryBot()
