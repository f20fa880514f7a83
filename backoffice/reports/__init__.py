"""Governance reports (issue 14, deliverable 4): the exception register
(:mod:`backoffice.reports.register`) and the governance report (:mod:`backoffice.reports.governance`).
Both read the store only, are masked as lists are, formula-safe, and audited (``report.export``
with the file's sha256)."""

from backoffice.reports.register import (
    REGISTER_COLUMNS,
    RegisterReport,
    exception_register,
    export_register,
    register_file,
)

__all__ = ["REGISTER_COLUMNS", "RegisterReport", "exception_register", "export_register", "register_file"]
