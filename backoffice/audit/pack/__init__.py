"""Evidence packs: a zip an auditor can check offline, and the checker.

``export_pack`` writes, for the audit entries matching the filters (optionally a seeded random
sample of them):

- ``entries.jsonl``: one stored row per line (``data`` and ``evidence`` are the JSON text exactly
  as hashed), plus ``masked`` (true when PII masking changed ``data``);
- ``entries.csv``: the same rows for spreadsheets; a cell starting with ``= + - @`` (or their
  full-width forms), tab or CR is prefixed with ``'`` so no spreadsheet runs it as a formula;
- ``chain.jsonl``: ``{seq, prev_hash, hash, in_pack}`` for *every* entry from the first to the
  last exported one, so the links can be checked across entries the filters left out;
- ``items.jsonl``: the items the entries are about (payload masked unless unmasked);
- ``incidents.jsonl`` and ``incidents.csv`` (when there are any): the incidents of the pack's
  period (a step of their timeline in it; of the filtered bot), each its record and its timeline,
  the ``incident.*`` audit entries with their seq and hash; the CSV one row per step, formula-safe
  like ``entries.csv``; ``manifest.json`` lists their ids (``incidents``);
- ``evidence/<sha256>``: every evidence file the entries reference;
- ``approvals.jsonl`` (when there are any): the change-control approval of each rule-set version the entries ran under
  (proposer, approver, times, params); ``manifest.json`` maps each version to its approval's id
  (``rule_versions``; null for a version run unapproved, in development mode);
- ``README.txt``: how to verify the pack;
- ``manifest.json``: sha256 of every other file, the chain range and head, the filters, sample
  size and seed, population counts and control totals per bot, and ``manifest_sha256`` (its own
  hash without that field), plus an HMAC ``signature`` when ``BACKOFFICE_AUDIT_KEY`` is set.

``verify_pack`` re-checks all of it without a store and names the file (and line) at fault.

Modules: :mod:`.format` (row formats, CSV cell safety), :mod:`.totals` (control totals),
:mod:`.export` (writing a pack), :mod:`.verify` (checking one offline).
"""

from __future__ import annotations

from backoffice.audit.pack.export import ExportResult, PackFilters, export_pack
from backoffice.audit.pack.verify import PackReport, raise_for, verify_pack

__all__ = ["ExportResult", "PackFilters", "PackReport", "export_pack", "raise_for", "verify_pack"]
