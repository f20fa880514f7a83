"""Data-entry bot: spreadsheet rows typed into a back-office web app, with read-back and evidence.

Steps (see README.md):

1. ``open``: credentials (environment or Prefect Secret block), the target's vendor master and
   currencies over HTTP (a refused login fails the run here, before anything is typed), then one
   browser with one page for the whole run. ``close`` shuts both, also after a failure.
2. ``read``: one item per xlsx row; idempotency key = hash(file sha256, row id, target URL).
   Unreadable cells become items that go straight to the queue (code ``INPUT``).
3. The runner validates each row (``InvoiceRow``) and applies ``RULES`` before anything is typed.
4. ``act`` (per batch, in the run's page): log in if not yet logged in (a refused login queues the
   batch as ``DE-LOGIN``); for each row search the target for its key; if found, read that record
   back, else type the form, save and read the record back; compare field by field; screenshot
   the record (IBAN blacked out) as evidence. Timeouts, 5xx and missing elements are retried with
   backoff (searching again first, so a save that answered with an error is never typed twice),
   then queued as system exceptions with a screenshot and the page HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.contract import Bot, Outcome, State
from backoffice.errors import ConfigError, ConnectorError, InputError, TerminalError, TransientError
from backoffice.items import EvidenceRef, Item, SourceRef, file_sha256, make_key
from backoffice.rules import Violation
from backoffice.runner import Run
from bots.data_entry.credentials import resolve_credentials
from bots.data_entry.models import COLUMNS, DataEntryInputs, InvoiceRow
from bots.data_entry.readback import compare_fields
from bots.data_entry.rules import PARAMS, RULES, DataEntryContext
from connectors.erp import ErpApp, ErpHttp, FormRejected, InvoiceForm, SavedRecord
from connectors.excel import Row, read_table
from connectors.web import Credentials, LoginFailed, RetryPolicy, WebSession, retry

__all__ = ["DataEntryBot", "DataEntryState", "bot", "to_form"]

log = logging.getLogger("bots.data_entry")


class DataEntryState(State[DataEntryInputs]):
    """One run's look-ups and sessions, opened by ``open`` and shut by ``close``.

    ``lookups`` is what the rules see; ``http`` serves the look-ups and the key search (plain
    HTTP, no browser round trip); ``erp`` is the run's one browser page, logged in on first use.
    """

    def __init__(
        self,
        inputs: DataEntryInputs,
        run: Run,
        *,
        credentials: Credentials,
        lookups: DataEntryContext,
        http: ErpHttp,
        web: WebSession,
    ) -> None:
        super().__init__(inputs, run)
        self.lookups = lookups
        self.http = http
        self.web = web
        self.erp = ErpApp(web, credentials)
        self.logged_in = False
        self.policy = retry_policy(run)


def retry_policy(run: Run) -> RetryPolicy:
    s = run.settings
    return RetryPolicy(attempts=s.retries + 1, backoff=s.retry_backoff_seconds)


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


class DataEntryBot(Bot[DataEntryInputs, DataEntryState]):
    """Types supplier invoices from an xlsx into the target's "New invoice" form."""

    name = "data-entry"
    Inputs = DataEntryInputs
    model = InvoiceRow
    ruleset = RULES
    record_class = "financial"  # supplier invoices entered into a ledger system
    title_field = "invoice_no"
    party_field = "vendor_no"  # the counterparty: the access review matches bank changes by it
    summary_labels = ("rows", "entered")
    description = (
        "Type invoices from a spreadsheet into a back-office web app; read back, screenshot, or queue each."
    )

    # -- open / close ---------------------------------------------------------------------------
    def open(self, inputs: DataEntryInputs, run: Run) -> DataEntryState:
        creds = resolve_credentials(inputs.credentials_block)
        policy = retry_policy(run)
        http = ErpHttp(inputs.target, creds)
        try:
            lookups = DataEntryContext(
                target=inputs.target,
                vendors=retry(http.vendors, policy),
                currencies=retry(http.currencies, policy),
                today=datetime.now(UTC).date(),
                max_future_days=PARAMS.max_future_days,
            )
            web = WebSession.open(
                inputs.target,
                headless=inputs.headless,
                timeout_ms=inputs.timeout_ms,
                navigation_timeout_ms=inputs.navigation_timeout_ms,
            )
        except ConfigError as exc:
            http.close()
            raise ConfigError(f"no browser for data entry: {exc}") from exc
        except BaseException:
            http.close()
            raise
        return DataEntryState(inputs, run, credentials=creds, lookups=lookups, http=http, web=web)

    def close(self, state: DataEntryState) -> None:
        try:
            state.web.close()
        finally:
            state.http.close()

    def rules_context(self, state: DataEntryState) -> DataEntryContext:
        return state.lookups

    # -- read -----------------------------------------------------------------------------------
    def read(self, state: DataEntryState) -> Iterator[Item]:
        path = Path(state.inputs.input)
        sha = file_sha256(path)
        seen_ids: dict[str, int] = {}
        rows = read_table(
            path, COLUMNS, key=("vendor_no", "invoice_no"), on_error="collect", file_label=str(path)
        )
        for row in rows:
            yield self._item(row, path, sha, state.inputs.target, seen_ids)

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

    # -- act ------------------------------------------------------------------------------------
    def act(self, items: list[Item], state: DataEntryState) -> list[Outcome]:
        if not state.logged_in:
            try:
                retry(state.erp.login, state.policy)
            except (LoginFailed, TransientError) as exc:
                evidence = self._capture(state.run, state.web, "login-failed")
                v = Violation(code="DE-LOGIN", message=str(exc))
                return [
                    _outcome(it.key, system=True, ok=False, violations=[v], evidence=evidence) for it in items
                ]
            state.logged_in = True  # later expiries are renewed by ErpApp itself
        return [self._enter(state, it) for it in items]

    def _enter(self, state: DataEntryState, it: Item) -> Outcome:
        erp, search, run = state.erp, state.http, state.run
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
            record, existed = retry(attempt, state.policy, on_retry=on_retry)
            shot = retry(erp.record_screenshot, state.policy)
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

    def _rejected(self, it: Item, form: InvoiceForm, exc: FormRejected, run: Run, erp: ErpApp) -> Outcome:
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
    def _capture(run: Run, web: WebSession, label: str) -> list[EvidenceRef]:
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
