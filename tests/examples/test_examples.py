"""Every ``examples/*.py`` runs as a user would run it: a fresh process and a fresh BACKOFFICE_HOME."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
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


# -- README "Authoring a bot" is correct as written ----------------------------------------------------
def authoring_section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("## Authoring a bot\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def code_blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def test_readme_shows_the_minimal_bot_as_it_is() -> None:
    """The README's Python excerpt is the example's code, line for line and in order."""
    section = authoring_section()
    excerpt = code_blocks(section, "python")[0]
    source = (REPO / "examples" / "minimal_bot.py").read_text().splitlines()
    at = 0
    for line in (ln for ln in excerpt.splitlines() if ln.strip()):
        assert line in source[at:], f"README line not in examples/minimal_bot.py (in order): {line!r}"
        at = source.index(line, at) + 1
    assert "bot = OrderBot()" in excerpt
    output = code_blocks(section, "")[0].splitlines()
    expected = EXPECTED["minimal_bot.py"]
    assert output[: len(expected)] == expected
    # then the line naming the rule-set version (its hash moves with the example's rules)
    assert len(output) == len(expected) + 1
    assert re.fullmatch(
        r"rule set orders@[0-9a-f]{12}; see them with: backoffice queue list --user NAME", output[-1]
    ), output[-1]


def test_readme_entry_point_and_test_work_for_the_minimal_bot(tmp_path: Path) -> None:
    """Saved as orders_bot/bot.py (as the README says), the bot is what the README's entry point
    names, and the README's test passes with the backoffice pytest plugin."""
    section = authoring_section()
    (entry_point,) = tomllib.loads(code_blocks(section, "toml")[0])["project"]["entry-points"][
        "backoffice.bots"
    ].items()
    name, target = entry_point
    module, _, attr = target.partition(":")
    package = tmp_path / module.split(".")[0]
    package.mkdir()
    (package / "__init__.py").write_text("")
    (tmp_path / (module.replace(".", "/") + ".py")).write_text(
        (REPO / "examples" / "minimal_bot.py").read_text()
    )
    (readme_test,) = [b for b in code_blocks(section, "python") if "def test_" in b]
    (tmp_path / "test_readme.py").write_text(readme_test)

    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    env["PYTHONPATH"] = str(tmp_path)
    env["BACKOFFICE_HOME"] = str(tmp_path / "home")
    named = subprocess.run(
        [sys.executable, "-c", f"import {module} as m; print(m.{attr}.name)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert named.stdout.strip() == name
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
