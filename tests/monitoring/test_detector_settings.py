"""The partner's detector settings: defaults until saved, each save the next version, partial
documents completed with the defaults, anything unknown refused with nothing saved."""

from __future__ import annotations

import uuid
from typing import Any

from partnerguard.monitoring.detection.config import DetectionConfig
from partnerguard.monitoring.detection.settings import load_config
from tests.support.monitoring import RunningMonitoring

URL = "/v1/monitoring/detectors"
DEFAULTS = DetectionConfig().model_dump(mode="json")


async def put(
    monitoring: RunningMonitoring, partner_id: uuid.UUID, config: dict[str, Any]
) -> dict[str, Any]:
    response = await monitoring.http.put(
        URL, json={"config": config}, headers=monitoring.headers(partner_id)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def current(monitoring: RunningMonitoring, partner_id: uuid.UUID) -> dict[str, Any]:
    response = await monitoring.http.get(URL, headers=monitoring.headers(partner_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_partner_that_saved_nothing_reads_the_defaults_as_version_0(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    settings = await current(monitoring, partner_id)

    assert settings["version"] == 0
    assert settings["config"] == DEFAULTS
    assert settings["updated_by"] is None
    assert settings["updated_at"] is None


async def test_a_partial_document_is_saved_with_the_defaults_filled_in_and_reads_back(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    saved = await put(
        monitoring,
        partner_id,
        {
            "spend_anomaly": {"daily_z": 4.5, "min_daily_increase": "75.5"},
            "activity": {"mfa_disabled": {"enabled": False}},
            "crypto_mining": {"heavy_patterns": ["(?i)gpu"]},
        },
    )

    assert saved["version"] == 1
    assert saved["updated_by"] is not None
    assert saved["updated_at"] is not None
    config = saved["config"]
    assert config["spend_anomaly"]["daily_z"] == 4.5
    assert config["spend_anomaly"]["min_daily_increase"] == "75.5"
    assert config["spend_anomaly"]["hourly_z"] == DEFAULTS["spend_anomaly"]["hourly_z"]
    assert config["activity"]["mfa_disabled"]["enabled"] is False
    # Leaving a rule's operations out keeps the default list.
    assert (
        config["activity"]["mfa_disabled"]["operations"]
        == DEFAULTS["activity"]["mfa_disabled"]["operations"]
    )
    assert config["crypto_mining"]["heavy_patterns"] == ["(?i)gpu"]
    assert config["notifications"] == DEFAULTS["notifications"]
    assert await current(monitoring, partner_id) == saved


async def test_the_saved_settings_are_what_the_detectors_load(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    await put(monitoring, partner_id, {"first_seen": {"enabled": False, "learning_days": 10}})

    async with monitoring.db.tenant_session(partner_id) as session:
        config = await load_config(session, partner_id)

    assert config.first_seen.enabled is False
    assert config.first_seen.learning_days == 10
    assert config.spend_anomaly == DetectionConfig().spend_anomaly


async def test_a_full_document_round_trips(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    full = dict(DEFAULTS)
    full["new_customer_burst"] = {**DEFAULTS["new_customer_burst"], "factor": 8.0}

    saved = await put(monitoring, partner_id, full)

    assert saved["config"] == full
    assert (await current(monitoring, partner_id))["config"] == full


async def test_each_save_is_the_next_version_and_replaces_the_last(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    await put(monitoring, partner_id, {"spend_anomaly": {"daily_z": 4.0}})
    second = await put(monitoring, partner_id, {"first_seen": {"learning_days": 5}})

    assert second["version"] == 2
    # A save is the whole document: what it leaves out is the default again, not the last save.
    assert second["config"]["spend_anomaly"]["daily_z"] == DEFAULTS["spend_anomaly"]["daily_z"]
    assert second["config"]["first_seen"]["learning_days"] == 5
    assert (await current(monitoring, partner_id))["version"] == 2


async def test_an_unknown_field_is_refused_naming_it_and_nothing_is_saved(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    await put(monitoring, partner_id, {"spend_anomaly": {"daily_z": 4.0}})
    headers = monitoring.headers(partner_id)

    response = await monitoring.http.put(
        URL,
        json={"config": {"spend_anomaly": {"daily_z": 6.0, "weekly_z": 3}}},
        headers=headers,
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    locs = [e["loc"] for e in response.json()["errors"]]
    assert ["body", "config", "spend_anomaly", "weekly_z"] in locs
    settings = await current(monitoring, partner_id)
    assert settings["version"] == 1
    assert settings["config"]["spend_anomaly"]["daily_z"] == 4.0


async def test_bad_settings_are_problem_json_and_save_nothing(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    headers = monitoring.headers(partner_id)
    for body in (
        {"config": {"telepathy": {"enabled": True}}},
        {"config": {"spend_anomaly": {"daily_z": -1}}},
        {"config": {"spend_anomaly": {"daily_baseline_weeks": 1}}},
        {"config": {"spend_anomaly": {"min_daily_increase": "-5"}}},
        {"config": {"spend_anomaly": None}},
        {"config": {"crypto_mining": {"heavy_patterns": ["(unclosed"]}}},
        {"config": {"notifications": {"by_kind": {"parking": {"review_hours": 1}}}}},
        {"config": {"notifications": {"default": {"review_hours": 0}}}},
        {"config": "everything"},
        {"config": {}, "note": "extra at the top"},
        {},
    ):
        response = await monitoring.http.put(URL, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"], body
    assert (await current(monitoring, partner_id))["version"] == 0


async def test_an_empty_document_saves_the_defaults_by_the_calling_client(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    token = monitoring.issuer.token(
        partner_id,
        ["monitoring:read", "monitoring:write"],
        audience="partnerguard:monitoring",
        claims={"client_id": "risk-console", "sub": "risk-console"},
    )

    response = await monitoring.http.put(
        URL, json={"config": {}}, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["updated_by"] == "risk-console"
    assert response.json()["config"] == DEFAULTS
    assert response.json()["version"] == 1


async def test_reading_needs_read_scope_and_saving_needs_write_scope(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    read_only = monitoring.headers(partner_id, scopes=["monitoring:read"])
    other_service = monitoring.headers(partner_id, scopes=["billing:read", "billing:write"])

    saved = await monitoring.http.put(URL, json={"config": {}}, headers=read_only)
    read = await monitoring.http.get(URL, headers=other_service)

    assert saved.status_code == 403
    assert saved.headers["content-type"] == "application/problem+json"
    assert read.status_code == 403
    assert (await monitoring.http.get(URL, headers=read_only)).status_code == 200
    assert (await current(monitoring, partner_id))["version"] == 0


async def test_one_partners_settings_are_not_anothers(
    monitoring: RunningMonitoring, partner_id: uuid.UUID
) -> None:
    await put(monitoring, partner_id, {"spend_anomaly": {"enabled": False}})
    other = uuid.uuid4()

    theirs = await current(monitoring, other)

    assert theirs["version"] == 0
    assert theirs["config"]["spend_anomaly"]["enabled"] is True
