"""The exception inbox: a server-rendered web app (FastAPI + Jinja2) over the queue.

Run it with ``backoffice inbox`` (``settings.inbox_host:inbox_port``, 127.0.0.1:8765 by
default) or build it with :func:`create_app` (``create_app(store)`` in tests).

Routes (DESIGN.md contract): ``/login``, ``/logout``, ``/queue``, ``/items/{id}``, ``/kpis``,
``/healthz``; anonymous requests to anything but ``/login`` and ``/healthz`` go to ``/login``.
Plain HTML forms, no JavaScript; every form carries a CSRF token.

For other routers (e.g. the audit explorer of issue 7, ``backoffice/inbox/audit_routes.py``):

- Hook point: :func:`create_app` includes ``router`` from every module listed in
  ``backoffice.inbox.app.OPTIONAL_ROUTERS`` (``backoffice.inbox.audit_routes`` is listed) when
  it can be imported, plus any ``routers=[...]`` passed to ``create_app``.
- ``backoffice.inbox.security``:
  ``current_user`` (dependency: the logged-in :class:`backoffice.users.User`; anonymous ->
  303 to /login), ``require_action(Action.X)`` and ``require_role("compliance", ...)``
  (dependency factories; a refusal is audited through ``users.deny`` and rendered as the
  403 denial page), ``csrf_form`` (dependency for POST routes: the parsed form after the
  CSRF check; 403 on a bad token), ``csrf_token(request)`` (the token for a form),
  ``get_store(request)`` (the app's :class:`backoffice.store.Store`).
- ``backoffice.inbox.web``: ``render(request, "audit.html", {...}, status_code=200)`` renders
  a template from ``backoffice/inbox/templates`` with ``user``, ``csrf_token``, ``nav`` and
  ``can("read_audit")`` in the context; ``templates`` is the Jinja2Templates object (filters
  ``when``, ``since``, ``until``, ``money``, ``duration``). ``NAV`` already links ``/audit``
  for roles that may read the audit log.
- Templates extend ``base.html`` and fill ``{% block title %}`` and ``{% block content %}``
  (optional ``{% block head %}``, ``{% block nav_extra %}``); ``flash`` and ``error`` context
  variables show as banners. Forms: ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``.
  CSS classes in ``static/inbox.css``: ``table.grid``, ``.badge``, ``.badge.overdue``,
  ``.badge.at_risk``, ``.filters``, ``.pager``, ``.error``, ``.flash``, ``.masked``.
- The Content-Security-Policy forbids scripts and inline styles: keep pages script-free.
"""

from __future__ import annotations

from backoffice.inbox.app import create_app

__all__ = ["create_app"]
