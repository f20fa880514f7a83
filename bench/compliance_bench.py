"""Evidence-pack export and offline verification against the live chain verification.

Builds a store with N audit entries (half of them carrying an IBAN that masking must change),
then times, in the same run: ``audit.verify`` (the baseline), a full export, ``verify-pack`` of
it, a seeded 200-entry sample export and its verification, and a purge of the older half.
Prints each as a ratio of the baseline, plus peak memory.

    .venv/bin/python bench/compliance_bench.py [N] [--json] [--quick]

``--quick``: 10,000 entries. ``--json``: one JSON line per ratio (bench/_report.py); no
targets were set for these, so the lines carry ``target: null``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Results, add_common_args


def main(n: int, results: Results) -> None:
    say = (lambda *a: print(*a, file=sys.stderr)) if results.json else print
    home = Path(tempfile.mkdtemp(prefix="bo-compliance-bench-"))
    os.environ["BACKOFFICE_HOME"] = str(home)
    os.environ.pop("BACKOFFICE_DATABASE_URL", None)
    from backoffice import audit, retention
    from backoffice.audit import AuditEntry
    from backoffice.audit.pack import PackFilters, export_pack, verify_pack
    from backoffice.store import Store, utcnow
    from backoffice.users import add_user

    store = Store.open()
    old = utcnow() - timedelta(days=800)
    for start in range(0, n, 5000):
        with store.write() as conn:
            audit.append_many(
                conn,
                store,
                [
                    AuditEntry(
                        actor="bot",
                        role="bot",
                        action="item.done",
                        subject=f"item:{i}",
                        bot="invoice-matching" if i % 2 else "data-entry",
                        at=old if i < n // 2 else None,
                        data={
                            "key": f"k{i}",
                            "result": {"iban": "DE89370400440532013000"} if i % 2 else {"ok": 1},
                        },
                    )
                    for i in range(start, min(n, start + 5000))
                ],
            )

    add_user(store, "comp", "compliance")

    def timed(label: str, fn, base: float | None = None) -> float:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        fn()
        took = time.perf_counter() - t
        ratio = f"{took / base:6.2f}x" if base else "  1.00x (baseline)"
        say(f"{label:<34} {took:8.2f}s {ratio}")
        if base:
            results.add(
                f"{label}, {n:,} entries vs audit verify",
                ratio=took / base,
                target=None,
                better="lower",
                seconds=round(took, 3),
                baseline_seconds=round(base, 3),
                n=n,
            )
        return took

    say(f"{n} audit entries")
    base = timed("audit verify (baseline)", lambda: audit.verify(store))
    full, sample = home / "full.zip", home / "sample.zip"
    timed("export full pack", lambda: export_pack(store, full, user="comp"), base)
    timed("verify-pack full pack", lambda: verify_pack(full), base)
    timed(
        "export 200-entry seeded sample",
        lambda: export_pack(store, sample, user="comp", filters=PackFilters(sample=200, seed=1)),
        base,
    )
    timed("verify-pack sample", lambda: verify_pack(sample), base)
    timed("purge older half (financial 1y)", lambda: _purge(store, retention, say), base)
    timed("audit verify after purge", lambda: audit.verify(store), base)
    say(
        f"pack size {full.stat().st_size / 1e6:.1f} MB; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


def _purge(store, retention, say) -> None:  # type: ignore[no-untyped-def]
    retention.set_policy(store, "financial", 365, by="comp")
    result = retention.purge(store, by="comp")
    if result.entries_purged == 0:
        raise RuntimeError("the purge removed nothing")
    say(f"  purged {result.entries_purged} entries through #{result.through_seq}")


if __name__ == "__main__":
    ap = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("n", nargs="?", type=int, default=50_000, help="audit entries")
    args = ap.parse_args()
    found = Results("compliance", json_=args.json)
    main(10_000 if args.quick else args.n, found)
    found.done()
