"""Every example in the spec is a real message that the parser, the decoder, the schema and the
envelope code all accept."""

from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices import examples, spec_doc
from devices.catalog import KINDS
from devices.generate import REPO_ROOT
from devices.messages import MessageType, encode, parse_message
from devices.uplink import decode_downlink, decode_record, encode_record
from privacy import envelope
from tests.devices.support import schema_accepts, uplink_schema_accepts


@pytest.mark.parametrize("example", examples.MESSAGE_EXAMPLES, ids=lambda e: e.title[:40])
def test_message_example_is_valid_and_round_trips(example: examples.Example) -> None:
    text = encode(example.message)
    assert parse_message(text) == example.message
    assert encode(parse_message(text)) == text
    assert schema_accepts(text)


def test_examples_cover_every_message_type_and_kind() -> None:
    assert {e.message.type for e in examples.MESSAGE_EXAMPLES} == set(MessageType)
    assert set(examples.STATE_EXAMPLES) == set(KINDS)
    for kind, state in examples.STATE_EXAMPLES.items():
        assert state.kind is kind
        assert set(state.state) == set(KINDS[kind].fields_by_name), "a full report has every field"


@pytest.mark.parametrize("kind", list(examples.STATE_EXAMPLES))
def test_state_example_is_valid(kind: str) -> None:
    text = encode(examples.STATE_EXAMPLES[kind])  # type: ignore[index]
    assert parse_message(text) == examples.STATE_EXAMPLES[kind]  # type: ignore[index]
    assert schema_accepts(text)


@pytest.mark.parametrize(
    "record", [r for _, r in examples.UPLINK_EXAMPLES], ids=["report", "heartbeat"]
)
def test_uplink_example_is_valid_and_round_trips(record: object) -> None:
    raw = encode_record(record)  # type: ignore[arg-type]
    assert decode_record(raw) == record
    assert uplink_schema_accepts(raw.decode())


def test_envelope_vector_is_what_seal_produces_and_open_accepts() -> None:
    vector = examples.envelope_vector()
    key = Ed25519PrivateKey.from_private_bytes(examples.TEST_KEY_SEED)
    assert envelope.seal(vector.sender, key, vector.body) == vector.envelope
    assert envelope.key_id(key.public_key()) == vector.key_id
    opened = envelope.open_signed(vector.envelope, {vector.sender: key.public_key()}.get)
    assert (opened.sender, opened.key_id, opened.body) == (
        vector.sender,
        vector.key_id,
        vector.body,
    )
    assert decode_record(opened.body) == examples.UPLINK_EXAMPLES[0][1]


def test_documented_envelope_limit_matches_the_code() -> None:
    assert spec_doc.MAX_ENVELOPE_BYTES == envelope.MAX_ENVELOPE_BYTES


def _doc_json_blocks() -> list[str]:
    doc = (REPO_ROOT / spec_doc.DOC_PATH).read_text(encoding="utf-8")
    return [m.strip() for m in re.findall(r"```json\n(.*?)```", doc, flags=re.S)]


def test_every_json_block_in_the_document_is_accepted_by_its_reader() -> None:
    """What a device maker copies out of the document works, whichever reader it is for."""
    blocks = _doc_json_blocks()
    assert len(blocks) > 20
    vector = examples.envelope_vector()
    lookup = {
        vector.sender: Ed25519PrivateKey.from_private_bytes(examples.TEST_KEY_SEED).public_key()
    }.get
    seen = {"message": 0, "record": 0, "envelope": 0, "downlink": 0}
    for block in blocks:
        obj = json.loads(block)
        if "alg" in obj:
            envelope.open_signed(block.encode(), lookup)
            seen["envelope"] += 1
        elif "community_id" in obj:
            decode_downlink(block.encode())
            seen["downlink"] += 1
        elif "hub_id" in obj:
            decode_record(block.encode())
            assert uplink_schema_accepts(block)
            seen["record"] += 1
        else:
            parse_message(block)
            assert schema_accepts(block)
            seen["message"] += 1
    assert seen["envelope"] == 1 and seen["record"] == 2 and seen["message"] > 15
    assert seen["downlink"] == 1
