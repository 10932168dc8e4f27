"""CloudEvents 1.0 envelopes (structured JSON mode) around versioned pydantic payloads.

Every event type is registered once, with its topic and payload model, in `skillkit.contracts`.
The envelope carries the partition key (the person key), the correlation id of the request that
caused it and the id of the event that caused it.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from skillkit.db import utcnow

correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
causation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation_id", default=None)

_FORMAT = JSONFormat()


class EventPayload(BaseModel):
    """Base of every payload: strict about unknown fields so a contract drift is loud."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class EventType:
    name: str  # versioned, e.g. "voucher.issued.v1"
    topic: str
    payload: type[EventPayload]
    description: str


class EventRegistry:
    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}

    def register(self, name: str, topic: str, description: str) -> Any:
        def decorator(model: type[EventPayload]) -> type[EventPayload]:
            if name in self._types:
                raise ValueError(f"event type {name} registered twice")
            self._types[name] = EventType(name, topic, model, description)
            model.__event_type__ = name  # type: ignore[attr-defined]
            return model

        return decorator

    def get(self, name: str) -> EventType | None:
        return self._types.get(name)

    def all(self) -> list[EventType]:
        return sorted(self._types.values(), key=lambda t: (t.topic, t.name))

    def type_of(self, payload: EventPayload) -> EventType:
        return self._types[payload.__event_type__]  # type: ignore[attr-defined]


registry = EventRegistry()


@dataclass(frozen=True)
class Envelope:
    """A decoded, validated event."""

    id: str
    type: str
    source: str
    time: datetime
    subject: str | None
    partition_key: str
    correlation_id: str | None
    causation_id: str | None
    data: EventPayload

    @property
    def payload(self) -> Any:
        return self.data


class InvalidEvent(ValueError):
    pass


def build_event(
    payload: EventPayload,
    *,
    source: str,
    partition_key: str,
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> tuple[str, EventType, bytes]:
    """Serialise a payload into a structured-mode CloudEvent; returns (event id, type, bytes)."""
    event_type = registry.type_of(payload)
    event_id = event_id or str(uuid.uuid4())
    attributes: dict[str, Any] = {
        "id": event_id,
        "source": source,
        "type": event_type.name,
        "specversion": "1.0",
        "time": time or utcnow(),
        "datacontenttype": "application/json",
        "partitionkey": partition_key,
    }
    if subject:
        attributes["subject"] = subject
    correlation = correlation_id_var.get()
    if correlation:
        attributes["correlationid"] = correlation
    causation = causation_id_var.get()
    if causation:
        attributes["causationid"] = causation
    event = CloudEvent(attributes, payload.model_dump(mode="json"))
    return event_id, event_type, _FORMAT.write(event)


def parse_event(raw: bytes) -> Envelope:
    """Decode and validate an event; raises InvalidEvent with a precise reason."""
    try:
        event = _FORMAT.read(None, raw)
    except Exception as exc:  # the library raises several unrelated types for malformed input
        raise InvalidEvent(f"not a CloudEvents 1.0 JSON event: {exc}") from exc
    type_name = event.get_type()
    event_type = registry.get(type_name)
    if event_type is None:
        raise InvalidEvent(f"unknown event type {type_name!r}")
    partition_key = event.get_extension("partitionkey")
    if not partition_key:
        raise InvalidEvent("event has no partitionkey extension")
    data = event.get_data()
    if not isinstance(data, dict):
        raise InvalidEvent("event data must be a JSON object")
    try:
        payload = event_type.payload.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(f"{type_name} payload invalid: {exc}") from exc
    time = event.get_time()
    if time is None or time.tzinfo is None:
        raise InvalidEvent("event time must be a timezone-aware timestamp")
    return Envelope(
        id=event.get_id(),
        type=type_name,
        source=event.get_source(),
        time=time,
        subject=event.get_subject(),
        partition_key=str(partition_key),
        correlation_id=event.get_extension("correlationid"),
        causation_id=event.get_extension("causationid"),
        data=payload,
    )
