"""The committed schema files and spec document are exactly what the catalog generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from devices import generate
from devices.catalog import COMMANDS, EVENTS, KINDS
from devices.messages import ErrorCode, MessageType
from devices.schema import published, schema_documents
from devices.spec_doc import DOC_PATH

ROOT = generate.REPO_ROOT


@pytest.mark.parametrize("rel", sorted(generate.outputs()))
def test_committed_file_is_up_to_date(rel: str) -> None:
    committed = (ROOT / rel).read_text(encoding="utf-8")
    assert committed == generate.outputs()[rel], f"run: python -m devices.generate --write ({rel})"


def test_no_stale_schema_files() -> None:
    assert generate.stale(ROOT) == []


def test_check_passes_on_the_repository() -> None:
    assert generate.main(["--check"]) == 0


def test_write_then_check_in_an_empty_tree(tmp_path: Path) -> None:
    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    assert generate.main(["--write", "--root", str(tmp_path)]) == 0
    assert generate.main(["--check", "--root", str(tmp_path)]) == 0


def test_check_notices_an_edit_and_a_stale_file(tmp_path: Path) -> None:
    generate.write(tmp_path)
    doc = tmp_path / DOC_PATH
    doc.write_text(doc.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    stale = tmp_path / generate.SCHEMA_DIR / "retired.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert set(generate.differences(tmp_path)) == {
        DOC_PATH,
        f"{generate.SCHEMA_DIR}/retired.schema.json",
    }
    generate.write(tmp_path)
    assert not stale.exists()
    assert generate.differences(tmp_path) == []


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_every_schema_file_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = json.loads((ROOT / generate.SCHEMA_DIR / name).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_published_loader_returns_the_shipped_file(name: str) -> None:
    assert published(name) == schema_documents()[name]


def test_one_schema_file_per_message_type() -> None:
    names = set(schema_documents())
    assert {f"{t}.schema.json" for t in MessageType} <= names
    assert {"interop-message.schema.json", "uplink-record.schema.json"} <= names


def test_document_names_everything_in_the_catalog() -> None:
    doc = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    for name in [*KINDS, *EVENTS, *COMMANDS, *ErrorCode, *MessageType]:
        assert f"`{name}`" in doc, name
    for spec in KINDS.values():
        for field in spec.state:
            assert f"`{field.name}`" in doc
            if field.matter:
                assert field.matter in doc
