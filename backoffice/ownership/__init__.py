"""The ownership register (issue 14, deliverable 2): who delivers, who decides (and their backup),
the response-time commitment and the escalation thresholds and path, per bot and rule code, per
engagement (``"default"`` until engagements land). See :mod:`backoffice.ownership.model`."""

from backoffice.ownership.absences import Absence, absences, away_among, is_away, mark_away, mark_back
from backoffice.ownership.model import (
    DEFAULT_ENGAGEMENT,
    OwnerRow,
    Problem,
    Register,
    RegisterError,
    load_register,
    parse_register,
)
from backoffice.ownership.records import (
    RegisterVersion,
    approve,
    current_in,
    current_register,
    diff,
    get_version,
    list_versions,
    propose,
    reject,
)

__all__ = [
    "DEFAULT_ENGAGEMENT",
    "Absence",
    "OwnerRow",
    "Problem",
    "Register",
    "RegisterError",
    "RegisterVersion",
    "absences",
    "approve",
    "away_among",
    "current_in",
    "current_register",
    "diff",
    "get_version",
    "is_away",
    "list_versions",
    "load_register",
    "mark_away",
    "mark_back",
    "parse_register",
    "propose",
    "reject",
]
