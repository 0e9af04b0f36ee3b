"""The event catalog, its payload models and the integrator documents generated from them.

Pure tests: no database, no broker. ``jsonschema`` is not a dependency of the workspace, so the
schemas are checked with :func:`schema_errors`, a small validator for exactly the keywords the
generator emits; a test fails if the generator starts emitting a keyword it does not know, so
the checks never silently weaken.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from partnerguard.common.events import CATALOG, DOMAIN_STREAMS, CloudEvent, EventDefinition
from partnerguard.common.events.schema import (
    asyncapi_document,
    event_json_schema,
    generated_files,
    main,
    schema_id,
)
from partnerguard.common.events.types.common import DecimalString, Money

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "events"
TYPE_SHAPE = re.compile(
    r"^(?P<domain>[a-z][a-z_]*)\.(?P<entity>[a-z][a-z_]*)\.(?P<action>[a-z][a-z_]*)$"
)
PARTNER = uuid.UUID("0190f5e2-7c1a-7b3e-9d4f-2a6b8c0d1e2f")

# The published catalog. Adding or removing a type is a contract change for integrators: it
# should take a deliberate edit here, not happen as a side effect.
EXPECTED_TYPES = {
    "onboarding.customer.submitted",
    "onboarding.customer.review_required",
    "onboarding.customer.approved",
    "onboarding.customer.rejected",
    "onboarding.verification.completed",
    "onboarding.collections_policy.accepted",
    "billing.account.opened",
    "billing.account.cleared",
    "billing.instrument.rejected",
    "billing.invoice.issued",
    "billing.invoice.settled",
    "billing.invoice.reopened",
    "billing.credit_note.issued",
    "billing.payment.reported",
    "billing.payment.posted",
    "billing.payment.reversed",
    "billing.dunning.step_executed",
    "billing.customer.delinquent",
    "billing.customer.in_good_standing",
    "billing.exposure.limit_exceeded",
    "monitoring.spend.daily",
    "monitoring.alert.raised",
    "monitoring.alert.resolved",
    "monitoring.budget.threshold_reached",
    "monitoring.notification.received",
    "monitoring.notification.overdue",
    "enforcement.hold.placed",
    "enforcement.hold.released",
    "enforcement.subscription.suspended",
    "enforcement.subscription.reinstated",
    "enforcement.action.pending_approval",
    "enforcement.case.opened",
    "enforcement.case.closed",
    "enforcement.credit_request.deadline_near",
    "gateway.webhook.disabled",
}
DEFINITIONS = list(CATALOG)
TYPES = [d.type for d in DEFINITIONS]


# --- a validator for the JSON Schema subset the generator emits -------------------------------

ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$defs"}
ASSERTIONS = {
    "$ref", "type", "properties", "required", "additionalProperties", "const", "enum", "anyOf",
    "allOf", "items", "minItems", "maxItems", "pattern", "format", "minLength", "maxLength",
    "minimum", "maximum",
}  # fmt: skip
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def resolve(root: dict[str, Any], ref: str) -> Any:
    """Follow a same-document JSON Pointer reference (RFC 6901)."""
    assert ref.startswith("#/"), f"{ref} leaves the document"
    node: Any = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} does not resolve"
        assert token in node, f"{ref} does not resolve"
        node = node[token]
    return node


def _format_ok(fmt: str, value: str) -> bool:
    try:
        if fmt == "uuid":
            return str(uuid.UUID(value)) == value.lower() and len(value) == 36
        if fmt == "date":
            return len(value) == 10 and dt.date.fromisoformat(value) is not None
        if fmt == "date-time":
            return "T" in value and dt.datetime.fromisoformat(value).tzinfo is not None
        if fmt == "uri":
            parts = urlsplit(value)
            return bool(parts.scheme and parts.netloc)
        if fmt == "ipv4":
            return ipaddress.IPv4Address(value) is not None
        if fmt == "ipv6":
            return ipaddress.IPv6Address(value) is not None
    except ValueError:
        return False
    raise AssertionError(f"format {fmt!r} unknown to the test validator")


def schema_errors(
    instance: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$"
) -> list[str]:
    """Why ``instance`` fails ``schema`` (empty when it is valid)."""
    unknown = set(schema) - ANNOTATIONS - ASSERTIONS
    assert not unknown, f"keywords {unknown} unknown to the test validator"
    errors: list[str] = []
    if "$ref" in schema:
        errors += schema_errors(instance, resolve(root, schema["$ref"]), root, at)
    if "type" in schema:
        expected = JSON_TYPES[schema["type"]]
        is_bool = isinstance(instance, bool)
        if not isinstance(instance, expected) or (is_bool and schema["type"] != "boolean"):
            return [*errors, f"{at}: not of type {schema['type']}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{at}: is not {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{at}: not one of {schema['enum']}")
    if "anyOf" in schema and all(schema_errors(instance, s, root, at) for s in schema["anyOf"]):
        errors.append(f"{at}: matches no anyOf option")
    for part in schema.get("allOf", []):
        errors += schema_errors(instance, part, root, at)
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            errors.append(f"{at}: too short")
        if len(instance) > schema.get("maxLength", len(instance)):
            errors.append(f"{at}: too long")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{at}: does not match {schema['pattern']}")
        if "format" in schema and not _format_ok(schema["format"], instance):
            errors.append(f"{at}: not a {schema['format']}")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{at}: below {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{at}: above {schema['maximum']}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{at}: too few items")
        if len(instance) > schema.get("maxItems", len(instance)):
            errors.append(f"{at}: too many items")
        for i, item in enumerate(instance):
            if "items" in schema:
                errors += schema_errors(item, schema["items"], root, f"{at}[{i}]")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        errors += [
            f"{at}: missing {name}" for name in schema.get("required", []) if name not in instance
        ]
        for key, value in instance.items():
            if key in properties:
                errors += schema_errors(value, properties[key], root, f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{at}: unexpected {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(value, schema["additionalProperties"], root, f"{at}.{key}")
    return errors


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def keys_named(node: Any, name: str, at: str = "$") -> Iterator[str]:
    """Paths of every object key ``name`` below ``node``, property names excluded."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == name:
                yield f"{at}.{key}"
            if key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():
                    yield from keys_named(sub, name, f"{at}.properties.{prop}")
            else:
                yield from keys_named(value, name, f"{at}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from keys_named(item, name, f"{at}[{i}]")


# --- samples ----------------------------------------------------------------------------------

# Values for the model-level rules a JSON Schema cannot state (one field given exactly when
# another has some value); every other field is derived from the schema.
SAMPLE_OVERRIDES: dict[str, dict[str, Any]] = {
    "monitoring.notification.received": {"kind": "acceptable_use_violation"},
    "enforcement.hold.placed": {"target_type": "subscription"},
    "enforcement.hold.released": {"target_type": "subscription"},
}
FORMAT_SAMPLES = {
    "uuid": "0190f5e2-7c1a-7b3e-9d4f-2a6b8c0d1e2f",
    "date": "2026-11-24",
    "date-time": "2026-11-24T10:15:00Z",
    "uri": "https://hooks.example.com/partnerguard",
    "ipv4": "203.0.113.7",
}


def sample_from_schema(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A deterministic instance of ``schema`` that fills every property, optional ones too."""
    if "$ref" in schema:
        return sample_from_schema(resolve(root, schema["$ref"]), root)
    if "const" in schema:
        return schema["const"]
    if "examples" in schema:
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return sample_from_schema(options[0], root)
    kind = schema.get("type")
    if kind == "object":
        if "properties" not in schema:
            return {"observed": 1250.5, "baseline": 3, "unit": "USD/day"}
        return {name: sample_from_schema(sub, root) for name, sub in schema["properties"].items()}
    if kind == "array":
        return [sample_from_schema(schema["items"], root)] * max(1, schema.get("minItems", 0))
    if kind == "string":
        if "format" in schema:
            return FORMAT_SAMPLES[schema["format"]]
        assert "pattern" not in schema, f"give pattern {schema['pattern']} an example"
        return "x" * max(1, schema.get("minLength", 0))
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    raise AssertionError(f"cannot sample {schema}")


def sample_data(definition: EventDefinition) -> dict[str, Any]:
    schema = event_json_schema(definition)
    data = sample_from_schema(schema["properties"]["data"], schema)
    data.update(SAMPLE_OVERRIDES.get(definition.type, {}))
    assert isinstance(data, dict)
    return data


def sample_event(definition: EventDefinition) -> dict[str, Any]:
    """A wire event as the outbox writes it: built from the model, dumped with exclude_none."""
    payload = definition.model.model_validate(sample_data(definition))
    envelope = CloudEvent(
        source=f"urn:partnerguard:{definition.domain}",
        type=definition.type,
        subject=str(uuid.uuid4()),
        data=payload.model_dump(mode="json"),
        partnerid=PARTNER,
        customerid=uuid.uuid4(),
    )
    event = envelope.model_dump(mode="json", exclude_none=True)
    assert isinstance(event, dict)
    return event


# --- the catalog ------------------------------------------------------------------------------


def test_the_catalog_holds_exactly_the_published_types() -> None:
    assert set(TYPES) == EXPECTED_TYPES


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_type_names_domain_entity_action_and_its_stream(definition: EventDefinition) -> None:
    match = TYPE_SHAPE.match(definition.type)
    assert match is not None
    assert (definition.domain, definition.entity, definition.action) == (
        match["domain"],
        match["entity"],
        match["action"],
    )
    assert definition.stream == DOMAIN_STREAMS[definition.domain]
    assert definition.model.event_type == definition.type
    assert definition.model.definition() is definition


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_subject_is_domain_partner_entity_action(definition: EventDefinition) -> None:
    subject = definition.subject(PARTNER)
    assert subject == f"{definition.domain}.{PARTNER}.{definition.entity}.{definition.action}"
    # One partner's integrator is granted `*.<partner_id>.>`: every subject must fall in it.
    assert subject.split(".")[1] == str(PARTNER)
    assert (
        definition.subject_pattern()
        == f"{definition.domain}.*.{definition.entity}.{definition.action}"
    )


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_each_type_says_when_it_is_emitted(definition: EventDefinition) -> None:
    assert definition.description.startswith("Emitted ")
    assert "\n" not in (definition.model.__doc__ or "").strip()


def test_payload_class_names_are_unique() -> None:
    # They name the shared schemas in the AsyncAPI document; a clash would rename one silently.
    names = [d.model.__name__ for d in DEFINITIONS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_payloads_refuse_unknown_fields(definition: EventDefinition) -> None:
    data = sample_data(definition)
    definition.model.model_validate(data)
    with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
        definition.model.model_validate({**data, "unexpected": "value"})


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_payloads_are_immutable(definition: EventDefinition) -> None:
    payload = definition.model.model_validate(sample_data(definition))
    field = next(iter(type(payload).model_fields))
    with pytest.raises(ValidationError, match="frozen"):
        setattr(payload, field, None)


# --- value types ------------------------------------------------------------------------------

MONEY = TypeAdapter(Money)
DECIMAL = TypeAdapter(DecimalString)


@given(amount=st.floats(allow_nan=False), currency=st.sampled_from(["EUR", "USD", "JPY"]))
def test_money_refuses_floats(amount: float, currency: str) -> None:
    with pytest.raises(ValidationError):
        MONEY.validate_python({"amount": amount, "currency": currency})
    with pytest.raises(ValidationError):
        MONEY.validate_json(json.dumps({"amount": amount, "currency": currency}))


@pytest.mark.parametrize("amount", ["100", True, None, Decimal("1")])
def test_money_refuses_anything_but_an_integer(amount: object) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": amount, "currency": "EUR"})


@given(currency=st.text(min_size=1, max_size=5).filter(lambda c: not re.fullmatch("[A-Z]{3}", c)))
def test_money_refuses_anything_but_an_upper_case_iso_code(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money(amount=100, currency=currency)


@pytest.mark.parametrize("currency", ["eur", "Eur", "EURO", "€", "EU"])
def test_money_refuses_lower_case_and_malformed_currencies(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money(amount=100, currency=currency)


@given(
    amount=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.from_regex(r"[A-Z]{3}", fullmatch=True),
)
def test_money_round_trips_through_json(amount: int, currency: str) -> None:
    money = Money(amount=amount, currency=currency)
    assert Money.model_validate_json(money.model_dump_json()) == money
    assert money.model_dump(mode="json") == {"amount": amount, "currency": currency}


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=8, min_value=-(10**12), max_value=10**12
    )
)
def test_a_decimal_string_round_trips_exactly(value: Decimal) -> None:
    text = DECIMAL.dump_python(DECIMAL.validate_python(value), mode="json")
    assert isinstance(text, str)
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]{1,8})?", text)
    assert DECIMAL.validate_python(text) == value


@pytest.mark.parametrize(
    "value",
    [
        12.5,
        1,
        "1e5",
        "12.123456789",
        "NaN",
        "Infinity",
        "",
        " 1",
        "١٢",
        Decimal("NaN"),
        Decimal("0.000000001"),
    ],
)
def test_a_decimal_string_refuses_floats_and_sloppy_text(value: object) -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python(value)


def test_a_decimal_string_is_written_in_fixed_point() -> None:
    assert DECIMAL.dump_python(Decimal("1E+2"), mode="json") == "100"
    assert DECIMAL.dump_python(DECIMAL.validate_python(Decimal("1.000000000")), mode="json") == "1"
    assert DECIMAL.dump_python(Decimal("0.00000001"), mode="json") == "0.00000001"


# --- model-level rules ------------------------------------------------------------------------


def _rejects(event_type: str, **changes: Any) -> None:
    definition = CATALOG[event_type]
    with pytest.raises(ValidationError):
        definition.model.model_validate({**sample_data(definition), **changes})


def test_cross_field_rules() -> None:
    _rejects("monitoring.notification.received", kind="suspected_fraud")
    _rejects("monitoring.notification.received", violation=None)
    _rejects("enforcement.hold.placed", target_type="customer")
    _rejects("enforcement.hold.released", subscription_id=None)
    _rejects("billing.exposure.limit_exceeded", limit={"amount": 1, "currency": "JPY"})
    _rejects("billing.account.opened", currency="JPY")
    _rejects("billing.invoice.issued", issued_on="2026-11-24", due_on="2026-11-01")
    _rejects("onboarding.customer.approved", risk_tier="extreme")
    _rejects("onboarding.customer.rejected", reasons=[])
    _rejects("onboarding.customer.submitted", submitted_at="2026-11-24T10:15:00")  # naive


# --- JSON Schema per type ---------------------------------------------------------------------


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_event_schema_shape(definition: EventDefinition) -> None:
    schema = event_json_schema(definition)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == schema_id(definition.type)
    assert schema["$id"] == f"https://partnerguard.dev/schemas/events/{definition.type}.json"
    assert schema["properties"]["type"]["const"] == definition.type
    assert set(schema["required"]) >= {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "data",
        "partnerid",
    }
    # $defs are hoisted to the top: none nested, every reference points into them and resolves.
    assert list(keys_named(schema, "$defs")) == ["$.$defs"]
    for ref in refs(schema):
        assert ref.startswith("#/$defs/")
        resolve(schema, ref)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_event_schema_accepts_an_event_built_from_the_model(definition: EventDefinition) -> None:
    schema = event_json_schema(definition)
    assert schema_errors(sample_event(definition), schema, schema) == []


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_event_schema_rejects_a_wrong_type(definition: EventDefinition) -> None:
    schema = event_json_schema(definition)
    other = next(t for t in TYPES if t != definition.type)
    assert schema_errors({**sample_event(definition), "type": other}, schema, schema)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_event_schema_rejects_missing_data_fields(definition: EventDefinition) -> None:
    schema = event_json_schema(definition)
    event = sample_event(definition)
    required = definition.model.model_json_schema()["required"]
    assert required
    for field in required:
        broken = copy.deepcopy(event)
        del broken["data"][field]
        assert schema_errors(broken, schema, schema), f"{field} is not required"
    assert schema_errors({k: v for k, v in event.items() if k != "data"}, schema, schema)
    assert schema_errors({**event, "data": {**event["data"], "unexpected": 1}}, schema, schema)


def _strategy(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Hypothesis strategy for instances of ``schema`` (the subset the generator emits)."""
    if "$ref" in schema:
        return _strategy(resolve(root, schema["$ref"]), root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([_strategy(s, root) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "array":
        return st.lists(
            _strategy(schema["items"], root), min_size=schema.get("minItems", 0), max_size=3
        )
    if kind == "object":
        if "properties" not in schema:
            return st.dictionaries(
                st.text(max_size=12), _strategy(schema["additionalProperties"], root), max_size=3
            )
        props = {name: _strategy(sub, root) for name, sub in schema["properties"].items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    if kind == "string":
        return _string_strategy(schema)
    raise AssertionError(f"no strategy for {schema}")


def _string_strategy(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    fmt = schema.get("format")
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "date":
        return st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)
    if fmt == "date-time":
        zones = st.sampled_from(
            [
                dt.UTC,
                dt.timezone(dt.timedelta(hours=-5)),
                dt.timezone(dt.timedelta(hours=5, minutes=30)),
            ]
        )
        moments = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1), timezones=zones)
        return moments.map(dt.datetime.isoformat)
    if fmt == "uri":
        return st.sampled_from(["https://hooks.example.com/pg", "http://localhost:8080/in?x=1"])
    if fmt == "ipv4":
        return st.ip_addresses(v=4).map(str)
    if fmt == "ipv6":
        return st.ip_addresses(v=6).map(str)
    if schema.get("pattern") == "^[A-Z]{3}$":
        # Events that compare amounts require one currency; random codes would almost never match.
        return st.sampled_from(["EUR", "USD"])
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    return st.text(
        min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40)
    )


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_schema_and_model_agree(definition: EventDefinition, data: st.DataObject) -> None:
    """What the schema allows the model accepts (bar cross-field rules), and what the model
    writes the schema allows: integrators who validate against the schema see no surprises."""
    schema = event_json_schema(definition)
    raw = data.draw(_strategy(schema["properties"]["data"], schema))
    refused: list[ErrorDetails] = []
    try:
        payload = definition.model.model_validate(raw)
    except ValidationError as exc:
        refused = exc.errors()
    # Only a model-level rule the schema cannot express may refuse schema-valid data.
    assert [error for error in refused if error["loc"] != ()] == []
    if refused:
        reject()
    dumped = payload.model_dump(mode="json")
    assert schema_errors(dumped, schema["properties"]["data"], schema) == []
    assert definition.model.model_validate(json.loads(json.dumps(dumped))) == payload


# --- AsyncAPI ---------------------------------------------------------------------------------

ASYNCAPI = asyncapi_document()
# The AsyncAPI Schema format is a superset of JSON Schema draft-07: keep these out of it.
DRAFT_2020_ONLY = {
    "$defs",
    "prefixItems",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicRef",
}


def test_asyncapi_document_header() -> None:
    assert ASYNCAPI["asyncapi"] == "3.0.0"
    assert ASYNCAPI["info"]["title"]
    assert ASYNCAPI["info"]["version"]
    assert ASYNCAPI["defaultContentType"] in {"application/cloudevents+json", "application/json"}
    assert [server["protocol"] for server in ASYNCAPI["servers"].values()] == ["nats"]


def test_asyncapi_has_a_channel_and_a_receive_operation_per_type() -> None:
    channels = ASYNCAPI["channels"]
    by_title = {channel["title"]: channel for channel in channels.values()}
    assert set(by_title) == set(TYPES)
    for definition in DEFINITIONS:
        channel = by_title[definition.type]
        assert (
            channel["address"]
            == f"{definition.domain}.{{partnerId}}.{definition.entity}.{definition.action}"
        )
        assert channel["address"] == definition.subject("{partnerId}")
        assert set(channel["parameters"]) == {"partnerId"}
        (message_ref,) = channel["messages"].values()
        message = resolve(ASYNCAPI, message_ref["$ref"])
        assert message["name"] == definition.type
        assert {"payload", "headers", "contentType"} <= set(message)

    operations = list(ASYNCAPI["operations"].values())
    assert len(operations) == len(TYPES)
    assert {op["action"] for op in operations} == {"receive"}
    served = {resolve(ASYNCAPI, op["channel"]["$ref"])["title"] for op in operations}
    assert served == set(TYPES)
    for op in operations:
        channel_ref = op["channel"]["$ref"]
        # An operation's messages must be ones its channel carries.
        assert all(m["$ref"].startswith(channel_ref + "/messages/") for m in op["messages"])


def test_every_asyncapi_reference_resolves_within_the_document() -> None:
    found = list(refs(ASYNCAPI))
    assert found
    for ref in found:
        resolve(ASYNCAPI, ref)


def test_asyncapi_schemas_stay_in_the_draft_07_superset() -> None:
    for keyword in DRAFT_2020_ONLY:
        assert list(keys_named(ASYNCAPI["components"], keyword)) == []


@pytest.mark.parametrize("definition", DEFINITIONS, ids=TYPES)
def test_asyncapi_message_payload_accepts_the_event_and_no_other(
    definition: EventDefinition,
) -> None:
    channel = next(c for c in ASYNCAPI["channels"].values() if c["title"] == definition.type)
    (message_ref,) = channel["messages"].values()
    payload = resolve(ASYNCAPI, message_ref["$ref"])["payload"]
    event = sample_event(definition)
    assert schema_errors(event, payload, ASYNCAPI) == []
    other = next(t for t in TYPES if t != definition.type)
    assert schema_errors({**event, "type": other}, payload, ASYNCAPI)
    assert schema_errors({**event, "data": {}}, payload, ASYNCAPI)


# --- generated files --------------------------------------------------------------------------


def test_docs_events_are_fresh() -> None:
    assert main([str(DOCS), "--check"]) == 0, (
        "docs/events is stale: run python -m partnerguard.common.events.schema docs/events"
    )


def test_generation_is_deterministic_and_sorted() -> None:
    first, second = generated_files(), generated_files()
    assert first == second
    for text in first.values():
        assert (
            text
            == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )


def test_check_reports_changed_missing_and_leftover_files(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--check"]) == 1  # nothing written yet
    assert main([str(tmp_path)]) == 0
    assert main([str(tmp_path), "--check"]) == 0
    assert len(list((tmp_path / "schemas").glob("*.json"))) == len(TYPES)

    (tmp_path / "asyncapi.json").write_text("{}\n")
    assert main([str(tmp_path), "--check"]) == 1
    main([str(tmp_path)])

    leftover = tmp_path / "schemas" / "billing.thing.removed.json"
    leftover.write_text("{}\n")
    assert main([str(tmp_path), "--check"]) == 1
    main([str(tmp_path)])
    assert not leftover.exists()
    assert main([str(tmp_path), "--check"]) == 0
