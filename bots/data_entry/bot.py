"""Data-entry bot: spreadsheet rows typed into a back-office web app, with read-back and evidence.

The target is described by a mapping file, its object repository (``--mapping``, default the
fixture ERP's ``fixtures/erp_app/mapping.toml``; :mod:`connectors.object_repository`), and driven
by :mod:`connectors.webform`: entering into another app needs another mapping, not code.

Steps (see README.md):

1. ``open``: credentials (environment or Prefect Secret block), one browser with one page for the
   whole run, the login (a refused or failing login stops the run before anything is read:
   :class:`~backoffice.errors.TargetDown`, one incident, the rows left for the next run), then the
   look-ups the mapping declares (vendor master, currencies). ``close`` shuts the browser, also
   after a failure. With ``--check-mapping FILE`` the run only checks that mapping.
2. ``read``: one item per xlsx row; idempotency key = hash(file sha256, row id, target URL).
   Unreadable cells become items that go straight to the queue (code ``INPUT``).
3. The runner validates each row (``InvoiceRow``) and applies ``RULES`` before anything is typed.
4. ``act`` (yields one outcome per row, so the runner's circuit breaker can stop a batch whose
   target is down): search the target for the row's key; if found, read that record back, else
   fill the form's steps, confirm, save and read the record back; compare field by field;
   screenshot the record (the mapping's mask blacked out) as evidence. Timeouts and 5xx are
   retried with backoff (searching again first, so a save that answered with an error is never
   typed twice); a missing element fails at once; then the row is queued as a system exception
   with a screenshot and the page HTML.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.contract import Bot, Outcome, State
from backoffice.errors import (
    ConfigError,
    ConnectorError,
    InputError,
    TargetDown,
    TerminalError,
    TransientError,
)
from backoffice.items import EvidenceRef, Item, SourceRef, file_sha256, make_key
from backoffice.rules import Violation
from backoffice.runner import Run
from bots.data_entry.credentials import resolve_credentials
from bots.data_entry.models import COLUMNS, DataEntryInputs, InvoiceRow, check_mapping_file
from bots.data_entry.readback import compare_fields
from bots.data_entry.rules import PARAMS, RULES, DataEntryContext, DataEntryParams, build_ruleset
from connectors.excel import Row, read_table
from connectors.object_repository import KEY_SOURCE, Mapping
from connectors.web import LoginFailed, RetryPolicy, WebSession, retry
from connectors.webform import CheckLine, ElementMissing, FormRejected, SavedRecord, WebForm

__all__ = ["DataEntryBot", "DataEntryState", "bot", "typed_values"]

log = logging.getLogger("bots.data_entry")


class DataEntryState(State[DataEntryInputs]):
    """One run's browser, target and look-ups, opened by ``open`` and shut by ``close``.

    ``lookups`` is what the rules see; ``app`` is the target driven through the run's one browser
    page (logged in by ``open``); ``check`` holds the report of a ``--check-mapping`` run."""

    def __init__(
        self,
        inputs: DataEntryInputs,
        run: Run,
        *,
        mapping: Mapping,
        lookups: DataEntryContext,
        web: WebSession,
        app: WebForm,
    ) -> None:
        super().__init__(inputs, run)
        self.mapping = mapping
        self.lookups = lookups
        self.web = web
        self.app = app
        self.policy = retry_policy(run)
        self.check: list[CheckLine] | None = None
        self.check_screenshot: Path | None = None


def retry_policy(run: Run) -> RetryPolicy:
    s = run.settings
    return RetryPolicy(attempts=s.retries + 1, backoff=s.retry_backoff_seconds)


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _typed(value: Any) -> str:
    """The text typed for a value (and expected back on the record page)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def typed_values(row: InvoiceRow, key: str, mapping: Mapping) -> dict[str, str]:
    """Form field -> the text typed into it: its input column's value, or the row's key."""
    out: dict[str, str] = {}
    for name, spec in mapping.form.fields.items():
        source = spec.source or name
        out[name] = key if source == KEY_SOURCE else _typed(getattr(row, source))
    return out


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

    def __init__(self, params: DataEntryParams | None = None) -> None:
        """Params in the constructor, as the contract says: change control builds the bot with the
        approved ones (``type(bot)(params)``) and the rules and look-ups run with them."""
        self.params = params or PARAMS
        self.ruleset = RULES if params is None else build_ruleset(self.params)

    # -- open / close ---------------------------------------------------------------------------
    def open(self, inputs: DataEntryInputs, run: Run) -> DataEntryState:
        creds = resolve_credentials(inputs.credentials_block)
        mapping = check_mapping_file(inputs.check_mapping or inputs.mapping)
        try:
            web = WebSession.open(
                inputs.target,
                headless=inputs.headless,
                timeout_ms=inputs.timeout_ms,
                navigation_timeout_ms=inputs.navigation_timeout_ms,
            )
        except ConfigError as exc:
            raise ConfigError(f"no browser for data entry: {exc}") from exc
        app = WebForm(web, mapping, creds)
        state = DataEntryState(
            inputs,
            run,
            mapping=mapping,
            lookups=DataEntryContext(target=inputs.target, max_future_days=self.params.max_future_days),
            web=web,
            app=app,
        )
        try:
            if inputs.check_mapping is not None:
                self._check(state)
            else:
                self._login(state)
                state.lookups = self._lookups(state)
        except BaseException:
            web.close()
            raise
        return state

    def _login(self, state: DataEntryState) -> None:
        """Log in (5xx and timeouts retried); a refusal or a login that keeps failing is TargetDown."""
        target = state.inputs.target
        try:
            retry(state.app.login, state.policy)
        except LoginFailed as exc:
            evidence = self._capture(state.run, state.web, "login-refused")
            raise LoginFailed(str(exc), target=target, evidence=[e.sha256 for e in evidence]) from exc
        except (TransientError, ElementMissing) as exc:
            evidence = self._capture(state.run, state.web, "login-failed")
            raise TargetDown(
                f"cannot log in at {target}: {state.web.redact(str(exc))}",
                target=target,
                evidence=[e.sha256 for e in evidence],
            ) from exc

    def _lookups(self, state: DataEntryState) -> DataEntryContext:
        """The reference data the mapping declares: ``vendors`` (rows with ``key`` and ``blocked``)
        and ``currencies`` (options); a target without them is not checked for them."""
        app, lk = state.app, state.mapping.lookups
        try:
            vendors = None
            if "vendors" in lk:
                rows = retry(lambda: app.lookup("vendors"), state.policy)
                vendors = {str(r["key"]): bool(r.get("blocked")) for r in rows if isinstance(r, dict)}
            currencies = (
                frozenset(str(c) for c in retry(lambda: app.lookup("currencies"), state.policy))
                if ("currencies" in lk)
                else frozenset()
            )
        except ConnectorError as exc:
            raise TargetDown(
                f"cannot read the look-ups at {state.inputs.target}: {state.web.redact(str(exc))}",
                target=state.inputs.target,
            ) from exc
        return DataEntryContext(
            target=state.inputs.target,
            vendors=vendors,
            currencies=currencies,
            today=datetime.now(UTC).date(),
            max_future_days=self.params.max_future_days,
        )

    def _check(self, state: DataEntryState) -> None:
        """``--check-mapping``: every element of the mapping found or not, and a screenshot."""
        state.check = state.app.check({})
        out = state.run.settings.reports_dir / f"mapping-check-{state.run.run_id}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        cap = state.web.capture("mapping-check")
        if cap.screenshot is not None:
            out.write_bytes(cap.screenshot)
            state.check_screenshot = out

    def close(self, state: DataEntryState) -> None:
        state.web.close()

    def rules_context(self, state: DataEntryState) -> DataEntryContext:
        return state.lookups

    # -- read -----------------------------------------------------------------------------------
    def read(self, state: DataEntryState) -> Iterator[Item]:
        if state.inputs.input is None:  # a --check-mapping run reads nothing
            return
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
    def act(self, items: list[Item], state: DataEntryState) -> Iterator[Outcome]:
        for it in items:  # one at a time: the runner's circuit breaker may stop the batch
            yield self._enter(state, it)

    def _enter(self, state: DataEntryState, it: Item) -> Outcome:
        app, run = state.app, state.run
        row = it.parsed if isinstance(it.parsed, InvoiceRow) else InvoiceRow.model_validate(it.payload)
        values = typed_values(row, it.key, state.mapping)
        key_field = next((n for n, f in state.mapping.form.fields.items() if f.source == KEY_SOURCE), None)
        attempts = 0

        def attempt() -> tuple[SavedRecord, bool]:
            nonlocal attempts
            attempts += 1
            # Always search first: after a timeout or a 5xx on save the record may exist already.
            hits = app.search(it.key)
            if len(hits) > 1:
                raise _Duplicates([h.id for h in hits])
            if hits:
                return app.open_record(hits[0].id), True
            try:
                return app.create(values), False
            except FormRejected as exc:
                if key_field is not None and set(exc.errors) == {key_field}:  # saved meanwhile: search again
                    raise TransientError(f"reference already in use: {exc.errors[key_field]}") from exc
                raise

        def on_retry(n: int, exc: BaseException) -> None:
            log.info(
                "row %s: attempt %d failed (%s), searching again before retrying",
                row.row_id,
                n,
                app.web.redact(str(exc)),
            )

        try:
            record, existed = retry(attempt, state.policy, on_retry=on_retry)
            shot = retry(app.screenshot, state.policy)
        except TargetDown:
            raise  # the login was refused on renewal: the runner stops the run
        except FormRejected as exc:
            return self._rejected(it, values, exc, run, app.web)
        except _Duplicates as exc:
            v = Violation(
                code="DE-DUPLICATE",
                message=f"the target holds {len(exc.ids)} records with this key",
                field=key_field,
                expected="1 record",
                actual=[f"#{i}" for i in exc.ids],
            )
            return _outcome(it.key, ok=False, violations=[v], evidence=self._capture(run, app.web, it.key))
        except ConnectorError as exc:
            evidence = self._capture(run, app.web, f"{it.key[:12]}-failed")
            v = Violation(
                code="DE-SYSTEM",
                message=f"after {attempts} attempt(s): {app.web.redact(str(exc))}",
                actual=type(exc).__name__,
            )
            return _outcome(it.key, system=True, ok=False, violations=[v], evidence=evidence)
        ev = run.store_evidence(shot, f"data-entry/{it.key[:12]}-record-{record.id}.png", "image/png")
        if app.mapping.record.mask:  # taken with the mapping's personal fields blacked out
            ev = ev.model_copy(update={"redacted": True})
        result = {
            "target_id": int(record.id) if record.id.isdigit() else record.id,
            "target_url": record.url.split("?", 1)[0],
            "existed": existed,
            "attempts": attempts,
            "row_id": row.row_id,
        }
        diffs = compare_fields(values, record.fields)
        if diffs:
            return _outcome(it.key, ok=False, violations=diffs, evidence=[ev], result=result)
        return _outcome(it.key, ok=True, evidence=[ev], result=result, action="invoice.entered")

    def _rejected(
        self, it: Item, typed: dict[str, str], exc: FormRejected, run: Run, web: WebSession
    ) -> Outcome:
        violations = []
        for name, message in exc.errors.items():
            dup = "already exists" in message
            violations.append(
                Violation(
                    code="DE-DUPLICATE" if dup else "DE-REJECTED",
                    message=f"target refused {name}: {message}",
                    field=name,
                    actual=typed.get(name),
                )
            )
        return _outcome(
            it.key, ok=False, violations=violations, evidence=self._capture(run, web, it.key[:12])
        )

    # -- finish ---------------------------------------------------------------------------------
    def finish(self, state: DataEntryState, summary: Any) -> dict[str, Any] | None:
        if state.check is None:
            return None
        missing = [line.name for line in state.check if not line.found]
        width = max(len(line.name) for line in state.check)
        report = [f"{state.inputs.check_mapping} against {state.inputs.target}:"]
        report += [
            f"  {'found  ' if ln.found else 'MISSING'}  {ln.name:<{width}}  {ln.how}" for ln in state.check
        ]
        return {
            "mapping_check": "\n".join(report),
            "mapping_missing": missing,
            "mapping_screenshot": str(state.check_screenshot) if state.check_screenshot else None,
        }

    def exit_code(self, summary: Any) -> int:
        """1 when ``--check-mapping`` found an element missing; else 0 (exceptions are queued)."""
        return 1 if summary.get("mapping_missing") else 0

    @staticmethod
    def _capture(run: Run, web: WebSession, label: str) -> list[EvidenceRef]:
        cap = web.capture(label)
        out = [run.store_evidence(cap.html.encode("utf-8"), f"data-entry/{label}.html", "text/html")]
        if cap.screenshot is not None:
            out.append(run.store_evidence(cap.screenshot, f"data-entry/{label}.png", "image/png"))
        return out


class _Duplicates(TerminalError):
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__(f"{len(ids)} records share one key: {ids}")


bot = DataEntryBot()
