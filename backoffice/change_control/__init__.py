"""Change control for rule sets (issue 14, deliverable 3).

A new rule-set version of a bot (a code or tolerance change) is proposed by an RPA expert
(:func:`propose`), previewed against the bot's last decided items
(:mod:`backoffice.change_control.preview`), approved or rejected by the client approver, never its
proposer (:func:`approve`, :func:`reject`), and only then used: runs take the approved params
(:func:`in_force`) and, in ``production`` mode, refuse a version without an approved record
(:func:`check_start`). Every run's audit entries carry the version and the approval's id.

Modules: :mod:`~backoffice.change_control.records` (the records, decisions and the start check)
and :mod:`~backoffice.change_control.preview` (re-checking decided items with a proposal; it uses
the runner, which uses the records, so it is not imported here).
"""

from __future__ import annotations

from backoffice.change_control.records import (
    RuleVersion,
    StartCheck,
    UnapprovedRuleSet,
    approve,
    approved_record,
    check_start,
    configured,
    development_notice,
    get_version,
    in_force,
    list_versions,
    params_of,
    propose,
    reject,
    running_bot,
    typed_params,
)

__all__ = [
    "RuleVersion",
    "StartCheck",
    "UnapprovedRuleSet",
    "approve",
    "approved_record",
    "check_start",
    "configured",
    "development_notice",
    "get_version",
    "in_force",
    "list_versions",
    "params_of",
    "propose",
    "reject",
    "running_bot",
    "typed_params",
]
