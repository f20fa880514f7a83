"""The payroll items of one run: one per register row, then one per department and one per
file-level control (bank file, each statement, GL, headcount).

The register is read row by row (``connectors.excel.read_table``). An unreadable row (text in
a money column, a formula, a repeated employee id, an unknown pay type) becomes an INPUT item
for the queue. While streaming, the run's totals, departments and period are collected in the state;
the aggregate items after the last row are built from them and from the look-ups.

What is built here decides what the rules see, so the rule-set version covers this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from backoffice.items import Item, SourceRef, file_sha256
from backoffice.pii import mask_account
from bots.payroll_reconciliation.context import REGISTER_COLUMNS, resolve_employee
from bots.payroll_reconciliation.state import PayrollState
from connectors.bankfiles import Notice, compact_account
from connectors.excel import read_table

__all__ = ["item_key", "notice_text", "payroll_items"]

ZERO = Decimal("0")
_PAY_TYPES = {"salary": "salaried", "exempt": "salaried", "non-exempt": "hourly"}


def item_key(recon_id: str, *parts: object) -> str:
    """``payroll:<reconciliation>:<kind>:<id>``; long ids are hashed to keep keys short."""
    text = ":".join(str(p) for p in parts)
    if len(text) > 150:
        text = hashlib.sha256(text.encode()).hexdigest()[:40]
    return f"payroll:{recon_id}:{text}"


def notice_text(n: Notice) -> str:
    """A reader's warning as one line: ``CAMT-NO-CLBD: statement 'S1' has no ... (line 12)``."""
    return f"{n.code}: {n.message}" + (f" (line {n.line})" if n.line else "")


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def payroll_items(st: PayrollState) -> Iterator[Item]:
    """Every item of the run, the register rows first."""
    bot = st.run.bot
    register = str(st.inputs.register)
    sha = st.file_sha.get("register") or file_sha256(register)
    currency = st.run.settings.company_currency
    seen: set[str] = set()
    dept = st.departments
    totals = st.totals
    hr = st.ctx.hr
    for row in read_table(register, REGISTER_COLUMNS, key="employee_id", on_error="collect"):
        d = row.data
        eid = d.get("employee_id")
        source = SourceRef(file=register, locator=row.locator, sha256=sha)
        pay_type = d.get("pay_type")
        errors = list(row.errors)
        if pay_type is not None:
            norm = pay_type.strip().lower()
            pay_type = _PAY_TYPES.get(norm, norm)
            if pay_type not in ("salaried", "hourly"):
                errors.append(
                    InputError(
                        f"pay type must be salaried or hourly, got {d['pay_type']!r}",
                        file=row.file,
                        sheet=row.sheet,
                        row=row.number,
                        column="pay_type",
                    )
                )
        payload: dict[str, Any] = {
            "kind": "employee",
            "employee": {
                "employee_id": eid,
                "name": d["name"],
                "department": d["department"],
                "pay_type": pay_type,
                "pay_date": d["pay_date"].isoformat() if d["pay_date"] else None,
                "period_start": d["period_start"].isoformat() if d["period_start"] else None,
                "period_end": d["period_end"].isoformat() if d["period_end"] else None,
                "rate": _dec(d["rate"]),
                "regular_hours": str(d["regular_hours"] or ZERO),
                "overtime_hours": str(d["overtime_hours"] or ZERO),
                "base_pay": _dec(d["base_pay"]),
                "overtime_pay": str(d["overtime_pay"] or ZERO),
                "other_earnings": str(d["other_earnings"] or ZERO),
                "gross": _dec(d["gross"]),
                "pretax_deductions": str(d["pretax_deductions"] or ZERO),
                "taxes": _dec(d["taxes"]),
                "posttax_deductions": str(d["posttax_deductions"] or ZERO),
                "net": _dec(d["net"]),
                "bank_account": None,
                "row": row.number,
            },
        }
        if errors:
            if d["bank_account"]:  # an unreadable row is not checked: only its last 4 are kept
                payload["employee"]["bank_account"] = mask_account(d["bank_account"])
            st.input_errors += 1
            key = item_key(st.recon_id, "row", row.number)
            yield Item.from_input_error(bot, key, errors[0], source, payload=payload)
            continue
        # the rules need the full account; the store masks it on display (declared BANK_ACCOUNT)
        if d["bank_account"]:
            payload["employee"]["bank_account"] = compact_account(d["bank_account"])
        eid = str(eid)
        rec = hr.get(eid)
        if rec is not None:
            eid = rec.employee_id  # the HR master's text: the run keeps one string per employee
        seen.add(eid)
        st.employees += 1
        totals["gross"] += d["gross"]
        totals["taxes"] += d["taxes"]
        totals["deductions"] += (d["pretax_deductions"] or ZERO) + (d["posttax_deductions"] or ZERO)
        totals["net"] += d["net"]
        name = d["department"] or "(none)"
        slot = dept.get(name)
        if slot is None:
            dept[name] = [d["gross"], 1]
        else:
            slot[0] += d["gross"]
            slot[1] += 1
        if d["period_start"] and (st.period_start is None or d["period_start"] < st.period_start):
            st.period_start = d["period_start"]
        if d["period_end"] and (st.period_end is None or d["period_end"] > st.period_end):
            st.period_end = d["period_end"]
        st.pay_dates.add(d["pay_date"])
        yield Item(
            bot=bot,
            key=item_key(st.recon_id, "emp", eid),
            payload=payload,
            source=source,
            amount=d["net"],
            currency=currency,
        )
    yield from _aggregate_items(st, seen, currency)


def _aggregate_items(st: PayrollState, seen: set[str], currency: str) -> Iterator[Item]:
    ctx = st.ctx
    bot = st.run.bot
    files = ctx.files
    prev_dept: dict[str, list[Any]] = {}
    if ctx.previous is not None:
        for line in ctx.previous.values():
            slot = prev_dept.setdefault(line.department or "(none)", [ZERO, 0])
            slot[0] += line.gross
            slot[1] += 1
    for name in sorted(set(st.departments) | set(prev_dept)):
        gross, count = st.departments.get(name, [ZERO, 0])
        pg, pc = prev_dept.get(name, [None, None])
        yield Item(
            bot=bot,
            key=item_key(st.recon_id, "dept", name),
            payload={
                "kind": "department",
                "department": {
                    "department": name,
                    "gross": str(gross),
                    "headcount": count,
                    "previous_gross": _dec(pg),
                    "previous_headcount": pc,
                },
            },
            source=SourceRef(file=files["register"], locator=f"department {name}"),
            amount=gross,
            currency=currency,
        )
    # bank payment file
    if ctx.payment_file is not None:
        pf = ctx.payment_file
        unknown = [
            f"{p.end_to_end_id or p.locator} ({mask_account(p.account)}, {p.amount})"
            for p in pf.payments
            if (resolve_employee(p, ctx.hr) or "") not in seen
        ]
        figures = {
            "payments": pf.count,
            "total": pf.total,
            "declared_count": pf.declared_count,
            "declared_total": pf.declared_total,
            "register_net": st.totals["net"],
        }
        st.controls["bank-file"] = {**figures, "format": pf.format, "problems": pf.control_problems()}
        yield _control(
            st,
            "bank-file",
            files.get("bank_file"),
            figures,
            pf.control_problems(),
            {"unknown_payments": unknown},
            currency,
        )
    # statements
    for i, s in enumerate(ctx.statements, start=1):
        refs = {p.end_to_end_id for pays in ctx.payments.values() for p in pays}
        matched = [(e, t) for e, t in s.transactions() if e.booked and t.end_to_end_id in refs]
        figures = {
            "opening": s.opening,
            "closing": s.closing,
            "credits": s.credits,
            "debits": s.debits,
            "payroll_entries": len(matched),
            "payroll_debits": -sum((t.amount for _, t in matched), ZERO),
        }
        # what the reader read past (no booked closing balance, an adjusted date): each a visible
        # finding of the statement's control, never a check silently skipped (rules.statement_balance)
        notices = [notice_text(n) for n in s.warnings]
        st.controls[f"statement:{i}"] = {
            **figures,
            "id": s.id,
            "account": mask_account(s.account),
            "warnings": notices,
        }
        yield _control(
            st,
            "statement",
            s.file or files.get("statement"),
            figures,
            notices,
            {"statement": [s.id]},
            currency,
            suffix=s.id,
        )
    # general ledger
    if ctx.gl is not None:
        figures = {f"register_{k}": st.totals[k] for k in ("gross", "taxes", "deductions", "net")}
        figures.update({f"gl_{k}": v for k, v in ctx.gl.items()})
        st.controls["gl"] = figures
        yield _control(st, "gl", ctx.gl_file, figures, [], {}, currency)
    # headcount
    if ctx.previous is not None:
        end = st.period_end or max(st.pay_dates, default=None)
        leavers = sorted(set(ctx.previous) - seen)
        unexplained = []
        for eid in leavers:
            rec = ctx.hr.get(eid)
            if rec is None or rec.termination_date is None or (end and rec.termination_date > end):
                unexplained.append(eid)
        joiners = sorted(seen - set(ctx.previous))
        figures = {
            "previous_headcount": len(ctx.previous),
            "headcount": st.employees,
            "joiners": len(joiners),
            "leavers": len(leavers),
        }
        st.controls["headcount"] = {**figures, "unexplained_leavers": len(unexplained)}
        yield _control(
            st, "headcount", ctx.previous_file, figures, [], {"unexplained_leavers": unexplained}, currency
        )


def _control(
    st: PayrollState,
    name: str,
    source: str | None,
    figures: dict[str, Any],
    problems: list[str],
    ids: dict[str, list[str]],
    currency: str,
    suffix: str | None = None,
) -> Item:
    return Item(
        bot=st.run.bot,
        key=item_key(st.recon_id, "control", name, *([suffix] if suffix else [])),
        payload={
            "kind": "control",
            "control": {
                "name": name,
                "source": Path(source).name if source else None,
                "figures": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in figures.items()},
                "problems": problems,
                "ids": ids,
            },
        },
        source=SourceRef(file=source or "", locator=f"control {name}" + (f" {suffix}" if suffix else "")),
        currency=currency,
    )
