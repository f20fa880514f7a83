"""The data-entry flow and `backoffice run data-entry` against the fixture ERP (real Prefect, real Chromium)."""

from __future__ import annotations

import inspect
import json

import pytest

from backoffice import audit
from backoffice.browser import launch_options
from backoffice.cli import main
from backoffice.errors import ConfigError
from backoffice.testing import done, queued
from fixtures.data_entry.generate import make_rows, write_workbook
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, start_in_thread

pytestmark = pytest.mark.browser


@pytest.fixture
def erp(tmp_path):
    try:
        launch_options()
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")
    server = start_in_thread(tmp_path / "erp.db")
    yield server
    server.stop()


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ERP_USER", DEFAULT_USER)
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", DEFAULT_PASSWORD)


def test_flow_types_the_batches_as_tasks(bo_store, erp, creds, tmp_path, prefect_harness) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    from bots.data_entry.models import DataEntryInputs
    from flows.data_entry import data_entry

    params = set(inspect.signature(data_entry.fn).parameters)
    assert params == set(DataEntryInputs.model_fields) | {"batch_size", "engagement", "rule_params"}
    f = write_workbook(tmp_path / "in.xlsx", make_rows(7, invalid=True))
    state = data_entry(input=str(f), target=erp.url + "/", batch_size=5, return_state=True)
    summary = state.result()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
            limit=200,
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    batches = sorted(r.name for r in runs if r.name.startswith("batch-"))
    assert batches == ["batch-1", "batch-2"]  # 8 rows, 5 per batch: two tasks, never one per row
    assert summary["total"] == 8 and summary["done"] + summary["queued"] == 8
    assert summary["done"] == len(erp.db.invoices()) == len(done(bo_store, "data-entry"))
    assert len(queued(bo_store, "data-entry")) == summary["queued"] > 0
    started = audit.entries(bo_store, action="run.started")
    assert started[-1]["data"]["inputs"]["target"] == erp.url  # normalised, no secrets in the inputs
    assert DEFAULT_PASSWORD not in json.dumps(audit.entries(bo_store), default=str)


def test_cli_run_prints_the_summary_as_json(bo_store, erp, creds, tmp_path, prefect_harness, capsys) -> None:
    f = write_workbook(tmp_path / "in.xlsx", make_rows(3))
    rc = main(["run", "data-entry", "--input", str(f), "--target", erp.url, "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    summary = json.loads(out)
    assert summary["done"] == 3 and summary["bot"] == "data-entry"
    rc = main(["run", "data-entry", "--input", str(f), "--target", erp.url, "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["skipped"] == 3
    assert len(erp.db.invoices()) == 3


def test_cli_without_credentials_is_a_clear_usage_error(bo_store, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("BACKOFFICE_ERP_USER", raising=False)
    monkeypatch.delenv("BACKOFFICE_ERP_PASSWORD", raising=False)
    f = write_workbook(tmp_path / "in.xlsx", make_rows(1))
    rc = main(["run", "data-entry", "--input", str(f), "--target", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert rc == 2 and "BACKOFFICE_ERP_USER" in err and "Traceback" not in err


def test_cli_has_no_password_option_and_checks_its_arguments(bo_store, tmp_path, creds, capsys) -> None:
    f = write_workbook(tmp_path / "in.xlsx", make_rows(1))
    assert main(["run", "data-entry", "--input", str(f), "--target", "http://x", "--password", "pw"]) == 2
    assert main(["run", "data-entry", "--input", str(f), "--target", "ftp://x"]) == 2
    assert main(["run", "data-entry", "--input", str(tmp_path / "missing.xlsx"), "--target", "http://x"]) == 1
    assert "file not found" in capsys.readouterr().err


def test_credentials_from_a_prefect_secret_block(
    bo_store, erp, tmp_path, monkeypatch, prefect_harness
) -> None:
    from prefect.blocks.system import Secret

    from flows.data_entry import data_entry

    monkeypatch.delenv("BACKOFFICE_ERP_USER", raising=False)
    monkeypatch.delenv("BACKOFFICE_ERP_PASSWORD", raising=False)
    Secret(value={"user": DEFAULT_USER, "password": DEFAULT_PASSWORD}).save("erp-login-test", overwrite=True)
    f = write_workbook(tmp_path / "in.xlsx", make_rows(2))
    summary = data_entry(input=str(f), target=erp.url, credentials_block="erp-login-test")
    assert summary["done"] == 2
    inputs = audit.entries(bo_store, action="run.started")[-1]["data"]["inputs"]
    assert inputs["credentials_block"] == "erp-login-test" and DEFAULT_PASSWORD not in json.dumps(inputs)


def test_cli_check_mapping_reports_each_element_and_exits_1_when_one_is_missing(
    bo_store, erp, creds, tmp_path, prefect_harness, capsys
) -> None:
    from bots.data_entry.models import DEFAULT_MAPPING

    rc = main(["run", "data-entry", "--check-mapping", str(DEFAULT_MAPPING), "--target", erp.url])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "found    form.steps[0].fields.gross_amount" in out and "MISSING" not in out
    erp.switch(changed_labels=True, changed_ids=True)
    rc = main(["run", "data-entry", "--check-mapping", str(DEFAULT_MAPPING), "--target", erp.url, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1 and "form.steps[0].fields.invoice_no" in summary["mapping_missing"]
    assert summary["mapping_screenshot"].endswith(".png") and erp.db.invoices() == []


def test_cli_target_down_at_login_exits_1_and_queues_nothing(
    bo_store, erp, creds, tmp_path, prefect_harness, capsys
) -> None:
    erp.switch(login_status=500)
    f = write_workbook(tmp_path / "in.xlsx", make_rows(4))
    rc = main(["run", "data-entry", "--input", str(f), "--target", erp.url])
    err = capsys.readouterr().err
    assert rc == 1 and "cannot log in" in err and "HTTP 500" in err
    assert queued(bo_store, "data-entry") == [] and len(audit.entries(bo_store, action="run.incident")) == 1
