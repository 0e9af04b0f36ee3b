"""``partnerguard usage import``: a reconciliation export in, with line numbers, resumably."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from partnerguard.cli.main import app as cli
from partnerguard.monitoring.customers.repository import CustomerRepository
from partnerguard.monitoring.usage.importer import ImportFailed, ImportState, import_file
from partnerguard.monitoring.usage.recon import RowError, record_from_row, usage_date
from tests.support.monitoring import RunningMonitoring

COLUMNS = [
    "PartnerId",
    "CustomerId",
    "CustomerName",
    "SubscriptionId",
    "UsageDate",
    "MeterCategory",
    "MeterSubCategory",
    "MeterName",
    "MeterRegion",
    "Unit",
    "ResourceLocation",
    "ResourceURI",
    "Quantity",
    "BillingPreTaxTotal",
    "BillingCurrency",
    "AdditionalInfo",
]


def _row(tenant: uuid.UUID, day: str, cost: str, **extra: str) -> dict[str, str]:
    row = {
        "PartnerId": str(uuid.uuid4()),
        "CustomerId": str(tenant),
        "CustomerName": "Contoso",
        "SubscriptionId": str(uuid.UUID(int=tenant.int ^ 7)),
        "UsageDate": day,
        "MeterCategory": "Virtual Machines",
        "MeterSubCategory": "NCads A100 v4 Series",
        "MeterName": "NC24ads A100 v4",
        "MeterRegion": "EU West",
        "Unit": "1 Hour",
        "ResourceLocation": "westeurope",
        "ResourceURI": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/"
        "virtualMachines/vm1",
        "Quantity": "24",
        "BillingPreTaxTotal": cost,
        "BillingCurrency": "EUR",
        "AdditionalInfo": '{"ServiceType": "Standard_NC24ads_A100_v4"}',
    }
    row.update(extra)
    return row


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


class _Flaky(httpx.AsyncBaseTransport):
    """Passes requests to the service until told to fail, then drops the connection."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fail_after: int) -> None:
        self.inner = inner
        self.fail_after = fail_after
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests > self.fail_after:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def tenant(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    async with monitoring.db.tenant_session(partner_id) as session:
        await CustomerRepository(session).record_approval(
            partner_id,
            uuid.uuid4(),
            risk_tier="low",
            vendor_tenant_id=tenant_id,
            approved_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
    return tenant_id


def _client(monitoring: RunningMonitoring, partner_id: uuid.UUID, fail_after: int = 10**6) -> Any:
    return httpx.AsyncClient(
        transport=_Flaky(monitoring.transport, fail_after),
        base_url="http://monitoring",
        headers=monitoring.headers(partner_id),
    )


async def _stored(monitoring: RunningMonitoring) -> tuple[int, Any]:
    async with monitoring.db.sweep_session() as session:
        row = (await session.execute(text("SELECT count(*), sum(cost) FROM usage_records"))).one()
    return row[0], row[1]


async def test_an_export_is_imported_with_refused_rows_named_by_line(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, tenant: uuid.UUID, tmp_path: Path
) -> None:
    rows = [_row(tenant, f"11/{day:02d}/2026", "10.5") for day in range(1, 6)]
    rows.insert(2, _row(tenant, "not a day", "1"))  # line 4
    rows.insert(4, _row(tenant, "11/09/2026", "ten"))  # line 6
    rows.append(_row(uuid.uuid4(), "11/10/2026", "1"))  # line 9: unknown tenant
    export = _write(tmp_path / "recon.csv", rows)

    async with _client(monitoring, partner_id) as http:
        state = await import_file(export, http, batch_size=2)

    assert (state.accepted, state.duplicates, state.rejected_count) == (5, 0, 3)
    assert [r.line for r in state.rejected] == [4, 6, 9]
    assert "UsageDate" in state.rejected[0].reasons[0]
    assert state.rejected[1].reasons[0].startswith("cost")
    assert state.rejected[2].reasons[0].startswith("vendor_tenant_id")
    assert await _stored(monitoring) == (5, 52.5)
    async with monitoring.db.sweep_session() as session:
        heavy = (await session.execute(text("SELECT sum(heavy_cost) FROM customer_days"))).one()
    assert heavy[0] == 52.5


async def test_an_interrupted_import_resumes_and_counts_each_row_once(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, tenant: uuid.UUID, tmp_path: Path
) -> None:
    rows = [_row(tenant, "2026-11-01", f"{n}.25") for n in range(10)]
    export = _write(tmp_path / "recon.csv", rows)

    async with _client(monitoring, partner_id, fail_after=2) as http:
        with pytest.raises(ImportFailed, match="run the same command again"):
            await import_file(export, http, batch_size=3, retry_delays=())
    kept = ImportState.load(export.with_name("recon.csv.import-state.json"))
    assert kept is not None
    assert (kept.accepted, kept.next_line, kept.complete) == (6, 8, False)

    async with _client(monitoring, partner_id) as http:
        state = await import_file(export, http, batch_size=3)

    assert (state.accepted, state.duplicates, state.complete) == (10, 0, True)
    assert (await _stored(monitoring))[0] == 10


async def test_a_finished_import_is_not_sent_again_unless_restarted(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, tenant: uuid.UUID, tmp_path: Path
) -> None:
    export = _write(tmp_path / "recon.csv", [_row(tenant, "2026-11-01", "1")] * 3)
    async with _client(monitoring, partner_id) as http:
        first = await import_file(export, http)
    assert (first.accepted, first.duplicates) == (1, 2)  # identical rows: one record

    transport_calls = _Flaky(monitoring.transport, 0)
    async with httpx.AsyncClient(transport=transport_calls, base_url="http://m") as idle:
        again = await import_file(export, idle)
    assert again.accepted == 1
    assert transport_calls.requests == 0

    async with _client(monitoring, partner_id) as http:
        restarted = await import_file(export, http, restart=True)
    assert (restarted.accepted, restarted.duplicates) == (0, 3)


async def test_progress_of_another_file_is_not_resumed(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, tenant: uuid.UUID, tmp_path: Path
) -> None:
    export = _write(tmp_path / "recon.csv", [_row(tenant, "2026-11-01", "1")])
    async with _client(monitoring, partner_id) as http:
        await import_file(export, http)
        _write(export, [_row(tenant, "2026-11-02", "2"), _row(tenant, "2026-11-03", "3")])
        with pytest.raises(ImportFailed, match="--restart"):
            await import_file(export, http)


async def test_a_refused_token_stops_the_import(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, tenant: uuid.UUID, tmp_path: Path
) -> None:
    export = _write(tmp_path / "recon.csv", [_row(tenant, "2026-11-01", "1")])
    async with httpx.AsyncClient(
        transport=monitoring.transport,
        base_url="http://monitoring",
        headers=monitoring.headers(partner_id, scopes=["monitoring:read"]),
    ) as http:
        with pytest.raises(ImportFailed, match="403"):
            await import_file(export, http, retry_delays=())
    assert (await _stored(monitoring))[0] == 0


async def test_a_file_without_the_usage_columns_is_refused(tmp_path: Path) -> None:
    export = tmp_path / "other.csv"
    export.write_text("a,b\n1,2\n")
    async with httpx.AsyncClient(base_url="http://unused") as http:
        with pytest.raises(ImportFailed, match="CustomerId"):
            await import_file(export, http)


def test_rows_become_records_named_by_their_content() -> None:
    tenant = uuid.uuid4()
    row = _row(tenant, "11/03/2026", "12.5")

    record = record_from_row(row)

    assert record["vendor_tenant_id"] == str(tenant)
    assert record["resource_type"] == "Standard_NC24ads_A100_v4"
    assert record["usage_start"] == "2026-11-03T00:00:00+00:00"
    assert record["usage_end"] == "2026-11-04T00:00:00+00:00"
    assert (record["cost"], record["currency"], record["region"]) == ("12.5", "EUR", "westeurope")
    assert record_from_row(dict(row))["record_id"] == record["record_id"]
    assert record_from_row({**row, "Quantity": "25"})["record_id"] != record["record_id"]
    no_size = record_from_row({**row, "AdditionalInfo": ""})
    assert no_size["resource_type"] == "Microsoft.Compute/virtualMachines"


@pytest.mark.parametrize(
    ("text_value", "expected"),
    [
        ("2026-11-03", 3),
        ("11/03/2026", 3),
        ("11/3/2026 0:00", 3),
        ("11/03/2026 12:00:00 AM", 3),
        ("3rd Nov", None),
    ],
)
def test_usage_dates_are_read_in_the_export_formats(text_value: str, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(RowError):
            usage_date(text_value)
    else:
        assert usage_date(text_value) == datetime(2026, 11, expected, tzinfo=UTC)


def test_the_command_needs_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PARTNERGUARD_TOKEN", "PARTNERGUARD_CLIENT_ID", "PARTNERGUARD_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    export = _write(tmp_path / "recon.csv", [])

    result = CliRunner().invoke(cli, ["usage", "import", str(export)])

    assert result.exit_code == 2
    assert "--client-id" in result.stderr
