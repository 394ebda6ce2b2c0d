"""``courtyard envelope open-field``: a mailbox entry on stdin, the value on stdout.

The family's key opens a good entry (bare, or as the mailbox API returns it); any flipped byte,
another key, or the entry moved to another context exits non-zero with one line on stderr and
no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community.mailbox import entry_dict
from privacy.keys import KeyType, load_sealing_private_key, new_keypair
from tests.sealed.support import context_of, sealed_fall

CLI = (sys.executable, "-m", "courtyard.privacy_cli", "envelope", "open-field")
VALUE = {"confidence": 0.937251, "note": "浴室"}


def _run(key: Path, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, "--key", str(key)],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _refused(done: subprocess.CompletedProcess[bytes]) -> bool:
    lines = done.stderr.decode("utf-8", "replace").splitlines()
    return (
        done.returncode != 0
        and len(lines) == 1
        and b"Traceback" not in done.stderr
        and done.stdout == b""
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("keys")
    family = new_keypair(base / "family", KeyType.X25519).private
    other = new_keypair(base / "other", KeyType.X25519).private
    return family, other


@pytest.fixture(scope="module")
def entry(keys: tuple[Path, Path]) -> dict[str, object]:
    record = sealed_fall(load_sealing_private_key(keys[0]), VALUE)
    return entry_dict(record.sealed[0], context_of(record))


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def test_the_family_key_opens_a_bare_entry_and_a_fetched_item(
    keys: tuple[Path, Path], entry: dict[str, object]
) -> None:
    for stdin in (_compact(entry), _compact({"id": 3, "created_ms": 1, "entry": entry})):
        done = _run(keys[0], stdin)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == VALUE


def test_another_key_a_moved_context_or_junk_is_one_line_and_non_zero(
    keys: tuple[Path, Path], entry: dict[str, object]
) -> None:
    context = dict(entry["context"])  # type: ignore[call-overload]
    moved = [
        {**entry, "context": {**context, name: value}}
        for name, value in (
            ("seq", 8),
            ("device", "fall-2"),
            ("hub", "hub-2"),
            ("event_type", "emergency_call"),
        )
    ]
    for stdin in (
        *(_compact(m) for m in moved),
        _compact({**entry, "recipient": "family:wang"}),
        b"",
        b"not json",
        b"[" * 100_000,
        b"\xff\xfe",
        _compact({"entry": entry}),
    ):
        assert _refused(_run(keys[0], stdin)), stdin[:80]
    assert _refused(_run(keys[1], _compact(entry)))
    assert _refused(_run(keys[0].parent / "missing.key", _compact(entry)))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_flipped_byte_is_refused(
    keys: tuple[Path, Path], entry: dict[str, object], data: st.DataObject
) -> None:
    raw = bytearray(_compact(entry))
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[index] ^= data.draw(st.integers(1, 255), label="xor")
    assert _refused(_run(keys[0], bytes(raw)))
