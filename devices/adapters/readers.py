"""Route readers shared by protocols: JSON state objects, plain-text values, availability.

Each is a small factory returning a :data:`~devices.adapters.definition.Reader`, so a
protocol's routes stay one row each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from devices.adapters.definition import Availability, Ignored, Reader, Report, Routed
from devices.adapters.errors import AdapterError
from devices.adapters.values import flatten, payload_json, payload_object, payload_text, preview


def ignore(reason: str) -> Reader:
    def read(captures: Mapping[str, str], payload: bytes | str) -> Routed:
        return Ignored(reason)

    return read


def json_object(*, nested: bool = True, what: str = "state") -> Reader:
    """A JSON object of properties; nested objects become ``a/b`` keys when ``nested``."""

    def read(captures: Mapping[str, str], payload: bytes | str) -> Routed:
        obj = payload_object(payload, what)
        props = flatten(obj) if nested else dict(obj)
        prefix = captures.get("component")
        if prefix:
            props = {f"{prefix}/{k}": v for k, v in props.items()}
        return Report(captures["device"], props)

    return read


def text_value(prop: str = "") -> Reader:
    """A plain-text payload as one property; the property is ``prop`` or the ``{property}``
    capture of the topic (Shelly Gen1 ``.../sensor/{property}``)."""

    def read(captures: Mapping[str, str], payload: bytes | str) -> Routed:
        name = prop or captures["property"]
        text = payload_text(payload, name).strip()
        if not text:
            return Ignored("empty payload (a cleared retained message)")
        return Report(captures["device"], {name: text})

    return read


def availability(online: Iterable[str], offline: Iterable[str], *, json_key: str = "") -> Reader:
    """Online/offline words; with ``json_key`` also a JSON object holding the word there
    (Zigbee2MQTT's ``{"state":"online"}``, with its legacy plain ``online`` still read)."""
    on, off = set(online), set(offline)

    def read(captures: Mapping[str, str], payload: bytes | str) -> Routed:
        text = payload_text(payload, "availability").strip()
        if not text:
            return Ignored("empty availability (a cleared retained message)")
        word: object = text
        if json_key and text.startswith("{"):
            obj = payload_object(payload, "availability")
            word = obj.get(json_key)
        elif json_key and text.startswith('"'):
            word = payload_json(payload, "availability")
        if word in on:
            return Availability(captures["device"], True)
        if word in off:
            return Availability(captures["device"], False)
        raise AdapterError(f"availability: {preview(word)} is neither online nor offline")

    return read
