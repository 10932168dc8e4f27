"""Generates the AsyncAPI 3.0 document of every topic and event type from the pydantic payload models.

`python -m skillkit.asyncapi > docs/asyncapi.json`; a test checks the checked-in file is current.
"""

from __future__ import annotations

import json
from typing import Any

import skillkit.contracts  # noqa: F401  (registers every event type)
from skillkit.contracts.topics import ALL_TOPICS
from skillkit.events import registry

ENVELOPE_DESCRIPTION = (
    "CloudEvents 1.0 in structured JSON mode (content type application/cloudevents+json). Attributes: id, "
    "source, type (the message name, versioned), specversion '1.0', time (UTC), subject, datacontenttype "
    "'application/json', data (the payload below), and the extensions partitionkey (the person key: "
    "HMAC-SHA256 of the normalised resident ID number, never the number itself; the entity id for "
    "non-person events), correlationid (the request that caused it), causationid (the event that caused it). "
    "The Kafka record key equals partitionkey, so one person's events stay in order and topics are co-partitioned."
)


def envelope_schema(payload_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "source", "type", "specversion", "time", "datacontenttype", "partitionkey", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "source": {"type": "string", "examples": ["/linxian/voucher-service"]},
            "type": {"type": "string"},
            "specversion": {"const": "1.0"},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string"},
            "datacontenttype": {"const": "application/json"},
            "partitionkey": {"type": "string"},
            "correlationid": {"type": "string"},
            "causationid": {"type": "string"},
            "data": {"$ref": payload_ref},
        },
    }


def build_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channel_id = topic.replace(".", "_")
        types = [t for t in registry.all() if t.topic == topic]
        channels[channel_id] = {
            "address": topic,
            "messages": {t.name.replace(".", "_"): {"$ref": f"#/components/messages/{t.name.replace('.', '_')}"}
                         for t in types},
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{t.name.replace('.', '_')}"} for t in types],
        }
    for event_type in registry.all():
        message_id = event_type.name.replace(".", "_")
        schema = event_type.payload.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas[name] = definition
        payload_name = f"{event_type.payload.__name__}Payload"
        schemas[payload_name] = schema
        messages[message_id] = {
            "name": event_type.name,
            "title": event_type.name,
            "summary": event_type.description,
            "contentType": "application/cloudevents+json",
            "payload": envelope_schema(f"#/components/schemas/{payload_name}"),
        }
        # A payload model may carry examples (`asyncapi_examples`: (name, summary, source, partition key, data));
        # each is shown as a whole CloudEvent, validated against the payload model first.
        examples = getattr(event_type.payload, "asyncapi_examples", ())
        if examples:
            messages[message_id]["examples"] = [
                {"name": name, "summary": summary, "payload": {
                    "id": "0b9f5a3c-3c1e-4f0e-9d1a-5f2b7c9e8a01", "source": source, "type": event_type.name,
                    "specversion": "1.0", "time": "2026-12-01T02:00:00Z", "subject": data.get("submission_id"),
                    "datacontenttype": "application/json", "partitionkey": key,
                    "data": event_type.payload.model_validate(data).model_dump(mode="json", exclude_none=True)}}
                for name, summary, source, key, data in examples]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Lin County skills voucher platform events",
            "version": "1.0.0",
            "description": ENVELOPE_DESCRIPTION
            + " Dead letters go to dlq.<consumer-group>.v1 with headers dlq.reason, dlq.error, dlq.topic, "
            "dlq.partition, dlq.offset and dlq.consumer, and the original record as value.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return json.dumps(build_document(), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
