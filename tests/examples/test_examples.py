"""Every ``examples/*.py`` runs as a user would run it: a fresh process and a fresh BACKOFFICE_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples").glob("*.py"))

# What each example prints (its whole output): an example whose output changes is a changed example.
EXPECTED = {
    "minimal_bot.py": [
        "orders: 3 read, 1 posted, 2 queued, 0 skipped (already processed)",
        "  INPUT: 1",
        "  ORD-LIMIT: 1",
    ],
}


def run_example(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    env["BACKOFFICE_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, str(path)], cwd=home.parent, env=env, capture_output=True, text=True, timeout=300
    )


def test_every_example_has_an_expected_output() -> None:
    assert EXAMPLES, "no examples/*.py"
    assert sorted(p.name for p in EXAMPLES) == sorted(EXPECTED)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_example(path, home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[: len(EXPECTED[path.name])] == EXPECTED[path.name], result.stdout
    assert home.is_dir() and any(home.iterdir()), "the example wrote no store under BACKOFFICE_HOME"


def test_minimal_bot_is_idempotent_and_queues_for_people(tmp_path: Path) -> None:
    """Run twice on one store: the second run skips every order; the queue holds the two exceptions."""
    home = tmp_path / "home"
    path = REPO / "examples" / "minimal_bot.py"
    assert run_example(path, home).returncode == 0
    again = run_example(path, home)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "orders: 3 read, 0 posted, 0 queued, 3 skipped (already processed)"

    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    code = (
        "from backoffice import Store\n"
        "from backoffice.testing import queued\n"
        "for it in queued(Store.open(), 'orders'):\n"
        "    print(sorted(v.code for v in it.violations))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "BACKOFFICE_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(out.stdout.splitlines()) == ["['INPUT']", "['ORD-LIMIT']"]
