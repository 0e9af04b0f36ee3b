"""Integrator documents generated from the event catalog: a JSON Schema per type, one AsyncAPI.

Generation is pure (the catalog in, plain dicts out) and deterministic, so the files under
``docs/events`` can be checked for freshness in CI::

    python -m partnerguard.common.events.schema docs/events          # write
    python -m partnerguard.common.events.schema docs/events --check  # exit 1 when stale
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic.json_schema import JsonSchemaMode, models_json_schema

from partnerguard.common.events import CATALOG, CloudEvent, EventData, EventDefinition

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://partnerguard.dev/schemas/events/"
ASYNCAPI_VERSION = "3.0.0"
# The NATS message body is the whole event in CloudEvents structured mode; the event's own
# ``datacontenttype`` (application/json) describes only its ``data``.
MESSAGE_CONTENT_TYPE = "application/cloudevents+json"
PARTNER_PARAMETER = "partnerId"
ENVELOPE_SCHEMA = "CloudEvent"
NATS_HEADERS_SCHEMA = "NatsHeaders"

# What each envelope attribute means to a consumer. Attributes documented on the CloudEvent
# model itself keep their own description; these fill the gaps.
_ENVELOPE_DESCRIPTIONS: dict[str, str] = {
    "specversion": "CloudEvents specification version.",
    "id": "Event ID (UUIDv7). Unique per event; a redelivery repeats it, so de-duplicate on it.",
    "source": "Producing context, `urn:partnerguard:<domain>`.",
    "type": "Event type, `<domain>.<entity>.<action>`.",
    "subject": "ID of the entity the event is about (customer, invoice, hold, ...).",
    "time": "When the change happened (RFC 3339; PartnerGuard writes UTC).",
    "datacontenttype": "Media type of `data`.",
    "data": "The payload, as defined for this event type.",
    "partnerid": "Extension: the partner (tenant) the event belongs to.",
    "customerid": "Extension: the partner's customer the event concerns, when there is one.",
    "traceparent": "Extension: W3C Trace Context of the change that caused the event.",
}

_SCHEMA_MODE: JsonSchemaMode = "validation"


def schema_id(event_type: str) -> str:
    """The ``$id`` of one event type's JSON Schema."""
    return f"{SCHEMA_BASE_URL}{event_type}.json"


def _envelope_properties() -> tuple[dict[str, Any], list[str]]:
    """The CloudEvent attributes as JSON Schema properties, and which are always present."""
    schema = CloudEvent.model_json_schema(mode=_SCHEMA_MODE)
    properties: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        # Pydantic's titles ("Specversion") repeat the key and say nothing.
        prop = {key: value for key, value in prop.items() if key != "title"}
        if name in _ENVELOPE_DESCRIPTIONS:
            prop.setdefault("description", _ENVELOPE_DESCRIPTIONS[name])
        properties[name] = prop
    # The outbox writes envelopes with exclude_none: an attribute that defaults to None is
    # absent when unset, every other one (including defaulted id, time, specversion) is there.
    required = [
        name
        for name, field in CloudEvent.model_fields.items()
        if not (field.default is None and field.default_factory is None)
    ]
    return properties, required


def _event_envelope(
    definition: EventDefinition, data_ref: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    props = copy.deepcopy(properties)
    props["type"] = {**props["type"], "const": definition.type}
    props["data"] = {"$ref": data_ref, "description": _ENVELOPE_DESCRIPTIONS["data"]}
    return {
        "type": "object",
        "title": definition.type,
        "description": definition.description,
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def _payload_schemas(
    models: Iterable[type[EventData]], ref_template: str
) -> tuple[dict[type[EventData], str], dict[str, Any]]:
    """Each model's definition name, and all definitions (models and what they nest) by name."""
    listed = list(models)
    refs, top = models_json_schema(
        [(model, _SCHEMA_MODE) for model in listed], ref_template=ref_template
    )
    prefix = ref_template.split("{model}", 1)[0]
    names = {model: refs[(model, _SCHEMA_MODE)]["$ref"].removeprefix(prefix) for model in listed}
    return names, top.get("$defs", {})


def event_json_schema(definition: EventDefinition) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a whole CloudEvent of ``definition``'s type."""
    names, defs = _payload_schemas([definition.model], "#/$defs/{model}")
    properties, required = _envelope_properties()
    document = _event_envelope(
        definition, f"#/$defs/{names[definition.model]}", properties, required
    )
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id(definition.type),
        **document,
        "$defs": defs,
    }


def _camel(event_type: str) -> str:
    words = event_type.replace(".", "_").split("_")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def _address(definition: EventDefinition) -> str:
    return definition.subject("{" + PARTNER_PARAMETER + "}")


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event an integrator can receive over NATS."""
    definitions = list(CATALOG)
    names, schemas = _payload_schemas(
        [d.model for d in definitions], "#/components/schemas/{model}"
    )
    taken = {ENVELOPE_SCHEMA, NATS_HEADERS_SCHEMA} & set(schemas)
    if taken:
        raise ValueError(f"payload schema names {sorted(taken)} clash with the envelope's")
    properties, required = _envelope_properties()
    schemas[ENVELOPE_SCHEMA] = {
        "type": "object",
        "title": "CloudEvent",
        "description": "CloudEvents 1.0 envelope (JSON format) shared by every event; each "
        "message fixes `type` and defines `data`.",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    schemas[NATS_HEADERS_SCHEMA] = {
        "type": "object",
        "description": "NATS message headers. The CloudEvent attributes travel in the body "
        "(structured content mode), not as headers.",
        "properties": {
            "Nats-Msg-Id": {
                "type": "string",
                "format": "uuid",
                "description": "Equals the CloudEvent `id`; JetStream drops a re-published "
                "duplicate within its de-duplication window.",
            }
        },
        "required": ["Nats-Msg-Id"],
    }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for definition in definitions:
        key = _camel(definition.type)
        tags = [{"name": definition.domain}]
        messages[key] = {
            "name": definition.type,
            "title": definition.model.__name__,
            "summary": definition.description,
            "contentType": MESSAGE_CONTENT_TYPE,
            "headers": {"$ref": f"#/components/schemas/{NATS_HEADERS_SCHEMA}"},
            "payload": {
                # allOf keeps the envelope defined once; the second part pins this type.
                "allOf": [
                    {"$ref": f"#/components/schemas/{ENVELOPE_SCHEMA}"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": definition.type},
                            "data": {"$ref": f"#/components/schemas/{names[definition.model]}"},
                        },
                        "required": ["type", "data"],
                    },
                ]
            },
            "tags": tags,
        }
        channels[key] = {
            "address": _address(definition),
            "title": definition.type,
            "description": f"{definition.description} Stream `{definition.stream}`.",
            "parameters": {
                PARTNER_PARAMETER: {"$ref": f"#/components/parameters/{PARTNER_PARAMETER}"}
            },
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations["receive" + key[0].upper() + key[1:]] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            "summary": definition.description,
            "tags": tags,
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "PartnerGuard events",
            "version": version("partnerguard-common"),
            "description": "Events PartnerGuard publishes about a partner's customers. Each is a "
            "CloudEvents 1.0 JSON event on the NATS subject "
            "`<domain>.<partnerId>.<entity>.<action>`; an integrator is granted "
            "`*.<partnerId>.>` and sees its own partner's events only. Delivery is "
            "at-least-once: de-duplicate on the event `id`.",
            "tags": [{"name": domain} for domain in sorted({d.domain for d in definitions})],
        },
        "defaultContentType": MESSAGE_CONTENT_TYPE,
        "servers": {
            "nats": {
                "host": "{host}",
                "protocol": "nats",
                "description": "The PartnerGuard NATS JetStream cluster; one stream per domain.",
                "variables": {
                    "host": {
                        "default": "localhost:4222",
                        "description": "host:port of the NATS endpoint given by the operator.",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "parameters": {
                PARTNER_PARAMETER: {
                    "description": "The partner's ID (UUID): the tenant whose events these are."
                }
            },
        },
    }


def render(document: dict[str, Any]) -> str:
    """Stable text for a generated document: sorted keys, two-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every generated file, by path relative to the output directory."""
    files = {Path("asyncapi.json"): render(asyncapi_document())}
    for definition in CATALOG:
        files[Path("schemas") / f"{definition.type}.json"] = render(event_json_schema(definition))
    return files


def _stale(out_dir: Path, files: dict[Path, str]) -> list[Path]:
    """Files that differ from what would be generated, missing, or left from removed types."""
    stale = [
        path
        for path, text in files.items()
        if not (out_dir / path).is_file() or (out_dir / path).read_text("utf-8") != text
    ]
    schemas_dir = out_dir / "schemas"
    if schemas_dir.is_dir():
        stale += [
            path.relative_to(out_dir)
            for path in sorted(schemas_dir.glob("*.json"))
            if path.relative_to(out_dir) not in files
        ]
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` verify) ``asyncapi.json`` and ``schemas/<type>.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m partnerguard.common.events.schema",
        description="Generate the event JSON Schemas and AsyncAPI document from the catalog.",
    )
    parser.add_argument("out_dir", type=Path, help="directory to write, e.g. docs/events")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are stale"
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out_dir
    files = generated_files()
    stale = _stale(out_dir, files)

    if args.check:
        for path in stale:
            sys.stderr.write(f"stale: {out_dir / path}\n")
        if stale:
            sys.stderr.write(f"regenerate with: {parser.prog} {out_dir}\n")
        return 1 if stale else 0

    for path in stale:
        target = out_dir / path
        if path in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[path], "utf-8")
        else:
            # A schema of an event type that no longer exists would mislead integrators.
            target.unlink()
    sys.stdout.write(f"{len(stale)} file(s) updated in {out_dir}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
