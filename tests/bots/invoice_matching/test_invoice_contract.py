"""The invoice bot's declarations under the bot contract: inputs, per-run state, data classes,
the rule-set version, and the extras it offers the CLI and deployments."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice.data_classes import DataClass, declared
from backoffice.errors import InputError
from backoffice.runner import run_bot, start_run
from backoffice.schema import items, runs
from backoffice.store import Store
from bots.invoice_matching import bot as bot_module
from bots.invoice_matching import invoices as invoices_module
from bots.invoice_matching.bot import InvoiceMatchingBot, bot
from bots.invoice_matching.models import Tolerances

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures" / "invoices"
ANSWER: dict[str, Any] = json.loads((FIXTURES / "answer_key.json").read_text())
KEY: dict[str, Any] = ANSWER["invoices"]  # the PDFs
ALL: dict[str, Any] = {**KEY, **ANSWER["other_inputs"]}  # every file of the directory


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Any]:
    return {
        "invoices": str(FIXTURES / "pdf"),
        "pos": str(FIXTURES / "purchase_orders.xlsx"),
        "receipts": str(FIXTURES / "receipts.csv"),
        "vendors": str(FIXTURES / "vendors.xlsx"),
        "ledger": str(tmp_path / "ledger.xlsx"),
    }


def test_inputs_are_checked_with_errors_naming_the_option(inputs: dict[str, Any], tmp_path: Path) -> None:
    parsed = bot.parse_inputs({**inputs, "fx": {"usd": "0.92", "GBP": Decimal("1.17")}})
    assert parsed.fx == {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}
    assert parsed.invoices.is_absolute() and parsed.files is None
    for bad, says in [
        ({"USDX": "0.9"}, "3-letter"),
        ({"US1": "0.9"}, "3-letter"),
        ({"USD": "0"}, "greater than 0"),
        ({"USD": "-1"}, "greater than 0"),
        ({"USD": "abc"}, "not a number"),
    ]:
        with pytest.raises(InputError, match=says) as err:
            bot.parse_inputs({**inputs, "fx": bad})
        assert str(err.value).startswith("--fx:") and err.value.code == "USAGE"
    with pytest.raises(InputError, match=r"--ledger: must name an \.xlsx file"):
        bot.parse_inputs({**inputs, "ledger": str(tmp_path / "ledger.csv")})
    with pytest.raises(InputError, match="--files: takes file names inside --invoices, not paths"):
        bot.parse_inputs({**inputs, "files": ["../secret.pdf"]})
    with pytest.raises(InputError, match="--vendors is required"):
        bot.parse_inputs({k: v for k, v in inputs.items() if k != "vendors"})
    assert bot.parse_inputs({**inputs, "files": ["b.pdf", "a.pdf", "b.pdf"]}).files == ["a.pdf", "b.pdf"]


def test_default_ledger_is_in_backoffice_home(bo_store: Store, inputs: dict[str, Any]) -> None:
    del inputs["ledger"]
    summary = run_bot(bot, {**inputs, "files": ["nordwind-01-clean.pdf"]}, store=bo_store)
    assert summary.done == 1
    assert summary.extra["ledger"] == str(bo_store.settings.home / "invoice_ledger.xlsx")
    assert (bo_store.settings.home / "invoice_ledger.xlsx").is_file()


def test_files_names_a_subset_read_from_the_directory_itself(bo_store: Store, inputs: dict[str, Any]) -> None:
    chosen = ["bad-02-encrypted.pdf", "lumen-26-price-and-qty.pdf", "nordwind-01-clean.pdf"]
    summary = run_bot(bot, {**inputs, "files": chosen}, store=bo_store)
    assert summary.total == 3
    with bo_store.read() as conn:
        rows = list(conn.execute(select(items.c.source, items.c.codes).where(items.c.bot == bot.name)))
        stored = conn.execute(select(runs.c.inputs).where(runs.c.id == summary.run_id)).scalar_one()
    assert sorted(Path(r.source["file"]).name for r in rows) == chosen
    assert {Path(r.source["file"]).parent for r in rows} == {FIXTURES / "pdf"}  # the real files, no links
    assert stored["files"] == chosen
    with pytest.raises(InputError, match="not in the directory"):
        run_bot(bot, {**inputs, "files": ["nordwind-01-clean.pdf", "no-such.pdf"]}, store=bo_store)


def test_masters_and_pdfs_are_read_once_per_run(
    bo_store: Store, inputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()

    def counted(module: Any, name: str) -> None:
        real = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name == "extract_invoices":  # the run's PDFs, read as one batch
                calls.update(Path(p).name for p in args[0])
            else:
                calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    for name in ("read_vendors", "read_purchase_orders", "read_receipts", "read_ledger"):
        counted(bot_module, name)
    counted(invoices_module, "extract_invoices")
    summary = run_bot(bot, inputs, store=bo_store, batch_size=7)
    assert summary.total == len(ALL)
    masters = {k: v for k, v in calls.items() if k.startswith("read_")}
    assert masters == {"read_vendors": 1, "read_purchase_orders": 1, "read_receipts": 1, "read_ledger": 1}
    pdfs = {k: v for k, v in calls.items() if not k.startswith("read_")}
    assert set(pdfs) == set(KEY) and set(pdfs.values()) == {1}


def test_state_belongs_to_one_run(bo_store: Store, inputs: dict[str, Any], tmp_path: Path) -> None:
    """Two runs of the one bot object at once keep apart what each opened."""
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    shutil.copy(FIXTURES / "pdf" / "nordwind-01-clean.pdf", other_dir / "only.pdf")
    first = bot.parse_inputs(inputs)
    second = bot.parse_inputs({**inputs, "invoices": str(other_dir), "ledger": str(tmp_path / "l2.xlsx")})
    s1 = bot.open(first, start_run(bot, first, bo_store))
    s2 = bot.open(second, start_run(bot, second, bo_store))
    assert len(list(bot.read(s1))) == len(ALL)
    assert [Path(it.source.file).name for it in bot.read(s2)] == ["only.pdf"]
    assert s1.ledger != s2.ledger and bot.rules_context(s1) is not bot.rules_context(s2)
    assert not [v for v in vars(bot).values() if isinstance(v, dict)]  # nothing per run on the singleton


def test_declarations_for_masking_retention_and_lists() -> None:
    assert declared(bot.model) == {"iban": DataClass.BANK_ACCOUNT}
    assert bot.record_class == "financial" and bot.amount_class is None
    assert bot.title_field == "invoice_number" and "invoice_number" in bot.model.model_fields
    assert bot.party_field == "seller_vat_id" and "seller_vat_id" in bot.model.model_fields


def test_ruleset_version_covers_the_tolerances_and_helpers() -> None:
    assert bot.ruleset.params is bot.tolerances
    assert {
        "bots.invoice_matching.rules",
        "bots.invoice_matching.matching",
        "bots.invoice_matching.context",
        "bots.invoice_matching.models",
        "connectors.purchasing",
    } <= set(bot.ruleset.modules())
    assert InvoiceMatchingBot().ruleset.version == bot.ruleset.version
    looser = InvoiceMatchingBot(Tolerances(price_pct=Decimal("10")))
    assert looser.ruleset.version != bot.ruleset.version
    assert looser.ruleset.params_dict()["price_pct"] == "10"


def test_extract_command_and_split_flows_come_from_the_bot() -> None:
    import typer

    commands = bot.commands()
    assert set(commands) == {"extract"} and isinstance(commands["extract"], typer.Typer)
    flows = {f.name: f for f in bot.flows()}
    assert set(flows) == {"invoice-matching-split", "invoice-matching-part"}
    assert {f.fn.__module__ for f in flows.values()} == {"bots.invoice_matching.split"}
