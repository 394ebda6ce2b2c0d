"""The ``sealed`` slot of the uplink record: exact round trip, strict and bounded decoding."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.catalog import DeviceKind
from devices.messages import InteropError, State
from devices.uplink import MAX_SEALED_ENTRIES, decode_record, encode_record
from tests.sealed.support import fall_record, sealed_fall

FAMILY = X25519PrivateKey.generate()


def _body(record: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(encode_record(record))
    return body


def _decode(body: dict[str, Any]) -> Any:
    return decode_record(json.dumps(body).encode())


def test_a_sealed_record_round_trips_and_a_plain_one_is_byte_for_byte_as_before() -> None:
    record = sealed_fall(FAMILY)
    assert decode_record(encode_record(record)) == record
    entry = _body(record)["sealed"][0]
    assert set(entry) == {"field", "recipient", "key_id", "suite", "wrapped", "nonce", "ciphertext"}
    assert (entry["field"], entry["recipient"]) == ("confidence", "family:li")
    plain = fall_record()
    assert "sealed" not in _body(plain)
    assert decode_record(encode_record(plain)).sealed == ()


def _broken(body: dict[str, Any], change: str) -> dict[str, Any]:
    entry = body["sealed"][0]
    edits: dict[str, Any] = {
        "not a list": lambda: body.update(sealed={"field": "x"}),
        "extra key": lambda: entry.update(extra="1"),
        "missing key": lambda: entry.pop("nonce"),
        "bad field": lambda: entry.update(field="Confidence!"),
        "bad recipient": lambda: entry.update(recipient=" family"),
        "bad key id": lambda: entry.update(key_id="XYZ"),
        "padded base64": lambda: entry.update(nonce=entry["nonce"] + "="),
        "short nonce": lambda: entry.update(nonce=entry["nonce"][:-4]),
        "short wrapped": lambda: entry.update(wrapped=entry["wrapped"][:-4]),
        "tiny ciphertext": lambda: entry.update(ciphertext="AAAA"),
        "huge ciphertext": lambda: entry.update(ciphertext="A" * 6000),
        "not text": lambda: entry.update(ciphertext=12),
        "twice": lambda: body["sealed"].append(dict(entry)),
        "also in clear": lambda: body["message"]["data"].update(confidence=0.5),
        "too many": lambda: body.update(
            sealed=[dict(entry, recipient=f"family:m{i}") for i in range(MAX_SEALED_ENTRIES + 1)]
        ),
    }
    edits[change]()
    return body


@pytest.mark.parametrize(
    "change",
    [
        "not a list",
        "extra key",
        "missing key",
        "bad field",
        "bad recipient",
        "bad key id",
        "padded base64",
        "short nonce",
        "short wrapped",
        "tiny ciphertext",
        "huge ciphertext",
        "not text",
        "twice",
        "also in clear",
        "too many",
    ],
)
def test_a_malformed_slot_is_an_interop_error(change: str) -> None:
    body = _broken(_body(sealed_fall(FAMILY)), change)
    with pytest.raises(InteropError):
        _decode(body)


def test_only_event_reports_may_carry_sealed_fields() -> None:
    record = sealed_fall(FAMILY)
    state = State("fall-1", DeviceKind.FALL_DETECTOR, 8, 1, {"occupied": True})
    body = _body(dataclasses.replace(record, message=state, sealed=()))
    body["sealed"] = _body(record)["sealed"]
    with pytest.raises(InteropError, match="event reports only"):
        _decode(body)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(
        ["field", "recipient", "key_id", "suite", "wrapped", "nonce", "ciphertext"]
    ),
    value=_JSONISH,
)
def test_any_value_in_any_entry_field_decodes_or_is_an_interop_error(key: str, value: Any) -> None:
    body = _body(sealed_fall(FAMILY))
    body["sealed"][0][key] = value
    try:
        record = _decode(body)
    except InteropError:
        return
    assert record.sealed[0].to_dict()[key] == value
