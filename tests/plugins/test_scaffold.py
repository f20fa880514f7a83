"""``backoffice new bot``: the distribution it writes installs, passes its own tests as generated,
is lint-clean, and is then an installed bot (``backoffice bots --json`` lists it)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backoffice import Store
from backoffice.scaffold import RESERVED_PACKAGES, bot_names
from tests.conftest import REPO
from tests.plugins.installing import (
    BIN,
    add_users,
    backoffice,
    cli_env,
    inbox_client,
    installed_here,
    pack_texts,
    pip_install,
    queue_list,
)

NAME = "demo-orders"
PACKAGE = "demo_orders_bot"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("scaffold")
    assert REPO not in root.parents
    env = cli_env(root / "T", root / "home")
    out = backoffice("new", "bot", NAME, "--dir", str(root / "bots"), "--json", env=env)
    made = json.loads(out.stdout)
    src = Path(made["path"])
    how = pip_install(src, root / "T")
    return {"src": src, "made": made, "env": env, "how": how, "target": root / "T"}


def test_it_writes_an_installable_distribution(generated: dict[str, Any]) -> None:
    src = generated["src"]
    assert src.name == NAME
    assert generated["made"]["package"] == PACKAGE
    assert sorted(generated["made"]["files"]) == [
        "README.md",
        f"{PACKAGE}/__init__.py",
        f"{PACKAGE}/bot.py",
        f"{PACKAGE}/models.py",
        f"{PACKAGE}/rules.py",
        "pyproject.toml",
        f"tests/test_{PACKAGE}.py",
    ]
    config = tomllib.loads((src / "pyproject.toml").read_text())
    assert config["build-system"]["build-backend"] == "setuptools.build_meta"
    assert "backoffice" in config["project"]["dependencies"]
    assert config["project"]["entry-points"]["backoffice.bots"] == {NAME: f"{PACKAGE}.bot:bot"}
    text = "\n".join(p.read_text() for p in src.rglob("*") if p.is_file())
    assert "scaffold" not in text.lower().replace("backoffice new bot", "")  # no placeholder left
    assert (generated["target"] / PACKAGE / "bot.py").is_file()


def test_its_generated_tests_pass(generated: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=generated["src"],
        env=generated["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout, result.stdout


def test_it_is_lint_clean(generated: dict[str, Any]) -> None:
    ruff = BIN / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [str(ruff), *args, "--no-cache"], cwd=generated["src"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_bots_json_lists_it_and_its_readme_tells_its_inputs_and_codes(generated: dict[str, Any]) -> None:
    out = json.loads(backoffice("bots", "--json", env=generated["env"]).stdout)
    entry = {b["name"]: b for b in out}[NAME]
    assert set(entry["inputs"]) == {"payments", "ledger"}
    assert entry["data_classes"] == {"payee_account": "personal.bank_account"}
    assert entry["record_class"] == "financial"
    assert set(entry["rules"]) == {"DEMO-ORDERS-LIMIT", "DEMO-ORDERS-ACCOUNT"}
    readme = (generated["src"] / "README.md").read_text()
    for code in entry["rules"]:
        assert f"`{code}`" in readme
    for name in entry["inputs"]:
        assert f"`--{name.replace('_', '-')}`" in readme
    help_text = backoffice("run", NAME, "--help", env=generated["env"]).stdout
    assert "--payments" in help_text and "--ledger" in help_text


def test_it_refuses_a_non_empty_target_and_bad_names(
    tmp_path: Path, bo_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    from backoffice.cli import main

    (tmp_path / "bots" / NAME).mkdir(parents=True)
    (tmp_path / "bots" / NAME / "notes.txt").write_text("mine")
    assert main(["new", "bot", NAME, "--dir", str(tmp_path / "bots")]) == 1
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "bots" / NAME).iterdir()) == ["notes.txt"]

    assert main(["new", "bot", "Demo_Orders", "--dir", str(tmp_path / "bots")]) == 2
    assert "lower-case" in capsys.readouterr().err

    assert main(["new", "bot", "invoice-matching", "--dir", str(tmp_path / "b2")]) == 1
    assert "installed already" in capsys.readouterr().err
    assert not (tmp_path / "b2").exists()

    empty = tmp_path / "b3" / NAME
    empty.mkdir(parents=True)  # an existing empty directory is fine
    assert main(["new", "bot", NAME, "--dir", str(tmp_path / "b3")]) == 0
    assert (empty / "pyproject.toml").is_file()
    assert f"cd {empty}" in capsys.readouterr().out


def test_package_names_never_collide_with_the_repos_packages() -> None:
    assert bot_names("demo-orders").package == "demo_orders_bot"
    assert bot_names("pay-bot").package == "pay_bot"
    assert bot_names("pay-bot").dist == "pay-bot"
    assert bot_names("demo-orders").classes == "DemoOrders"
    assert bot_names("demo-orders").code == "DEMO-ORDERS"
    for name in RESERVED_PACKAGES:
        assert bot_names(name).package not in RESERVED_PACKAGES
    top_level = {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file()}
    assert top_level <= RESERVED_PACKAGES  # the list covers every package of this repository


# -- the same end to end as a third party's bot (tests/plugins/test_third_party_bot.py) ----------------
# Accounts that are not IBANs, so that only the declared DataClass.BANK_ACCOUNT can mask them.
PAYMENTS = """ref,payee,amount,payee_account
P-1,ACME Supplies,120.00,550011112222
P-2,Globex,4500.00,660022223333
P-3,Initech,80.00,
"""
ACCOUNTS = ["550011112222", "660022223333"]


@pytest.mark.slow  # one real `backoffice run` (Prefect's embedded server starts: 10-30 s)
def test_the_generated_bot_end_to_end(
    generated: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    add_users(home)
    env = cli_env(generated["target"], home)
    (tmp_path / "payments.csv").write_text(PAYMENTS)
    ledger = tmp_path / "ledger.jsonl"
    run = backoffice(
        "run", NAME, "--payments", str(tmp_path / "payments.csv"), "--ledger", str(ledger), "--json", env=env
    )
    summary = json.loads(run.stdout)
    assert (summary["total"], summary["done"], summary["queued"]) == (3, 1, 2)
    assert summary["codes"] == {"DEMO-ORDERS-ACCOUNT": 1, "DEMO-ORDERS-LIMIT": 1}
    assert summary["ledger"] == str(ledger)
    assert [json.loads(line)["ref"] for line in ledger.read_text().splitlines()] == ["P-1"]

    rows = queue_list(env, NAME)
    assert sorted(c for r in rows for c in r["codes"]) == ["DEMO-ORDERS-ACCOUNT", "DEMO-ORDERS-LIMIT"]
    assert [a for a in ACCOUNTS if a in json.dumps(rows)] == []

    texts = pack_texts(env, NAME, tmp_path / "pack.zip")
    assert "item.queued" in texts["entries.jsonl"]
    assert {
        n: [a for a in ACCOUNTS if a in t] for n, t in texts.items() if any(a in t for a in ACCOUNTS)
    } == {}

    as_of = (datetime.now(UTC) + timedelta(days=11 * 365)).date().isoformat()
    purge = backoffice(
        "audit", "purge", "--dry-run", "--as-of", as_of, "--user", "compliance", "--json", env=env
    )
    result = json.loads(purge.stdout)
    assert result["items_purged"] == 1 and result["by_class"].get("financial", 0) >= 3  # its record class

    with installed_here(generated["target"], home, PACKAGE, monkeypatch) as store:
        page = inbox_client(store, "associate").get("/queue", params={"bot": NAME})
        assert page.status_code == 200 and "DEMO-ORDERS-LIMIT" in page.text
        assert [a for a in ACCOUNTS if a in page.text] == []

        from prefect.deployments.runner import EntrypointType
        from prefect.utilities.importtools import import_object

        from backoffice.orchestration.deploy import discover

        flow_target = {t.name: t for t in discover()}[NAME]
        deployment = flow_target.flow.to_deployment(name="x", entrypoint_type=EntrypointType.MODULE_PATH)
        assert deployment.flow_name == NAME
        assert import_object(flow_target.entrypoint).name == NAME
