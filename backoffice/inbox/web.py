"""Templates and the small helpers every page uses.

``templates`` is the app's Jinja2 environment (autoescaping on for ``.html``): pages extend
``base.html`` and fill ``{% block title %}`` and ``{% block content %}``. :func:`render`
adds the current user, the CSRF token and the navigation to the context.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from backoffice.inbox.security import csrf_token
from backoffice.pii import PAY_MASK
from backoffice.store import utcnow
from backoffice.users import Action, User, allowed

__all__ = ["NAV", "TEMPLATES_DIR", "age", "render", "templates"]

TEMPLATES_DIR = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

#: (label, url, action needed). Issue 7's audit explorer appears for roles that may read audit.
NAV: list[tuple[str, str, Action]] = [
    ("Queue", "/queue", Action.READ_QUEUE),
    ("KPIs", "/kpis", Action.READ_QUEUE),
    ("Audit", "/audit", Action.READ_AUDIT),
    ("Rules", "/rules", Action.READ_RULES),
    ("Owners", "/owners", Action.READ_QUEUE),
    ("Incidents", "/incidents", Action.READ_INCIDENTS),
    ("Governance", "/governance", Action.READ_REPORTS),
]


def age(seconds: float | None) -> str:
    """``93784`` -> ``1d 2h``."""
    if seconds is None:
        return "–"
    s = int(abs(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    return f"{m}m"


def _since(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return age((utcnow() - value).total_seconds())


def _until(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    delta = (value - utcnow()).total_seconds()
    return ("in " if delta >= 0 else "") + age(delta) + ("" if delta >= 0 else " ago")


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        when = value
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _money(value: Any, currency: str | None = None) -> str:
    if value is None or value == "":
        return "–"
    try:
        text = f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{text} {currency}" if currency else text


def _shown_amount(row: dict[str, Any]) -> Any:
    """An item's amount as a list shows it: masked when it is a person's pay (the item's
    ``personal`` column, set by the runner from the bot's ``amount_class``)."""
    amount = row.get("amount")
    return PAY_MASK if row.get("personal") and amount is not None else amount


def _hours(seconds: float | None) -> str:
    return "–" if seconds is None else age(seconds)


templates.env.filters["since"] = _since
templates.env.filters["until"] = _until
templates.env.filters["when"] = _when
templates.env.filters["money"] = _money
templates.env.filters["shown_amount"] = _shown_amount
templates.env.filters["duration"] = _hours
templates.env.globals["timedelta"] = timedelta


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """Render ``name`` with the user, CSRF token and navigation in the context."""
    user: User | None = getattr(request.state, "user", None)
    ctx: dict[str, Any] = {
        "user": user,
        "csrf_token": csrf_token(request),
        "nav": [(label, url) for label, url, act in NAV if user is not None and allowed(user.role, act)],
        "can": (lambda action: user is not None and allowed(user.role, Action(action))),
        "path": request.url.path,
        "engagement": request.app.state.store.engagement,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
