"""The privacy CLI as a person runs it (a real subprocess): keys, seal, open, audit verify.
Every failure is one line on stderr, a non-zero status, and no traceback."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from privacy.audit import AuditAction, AuditLog

ROOT = Path(__file__).resolve().parents[2]
SECRET = "跌倒: bedroom, 03:12".encode()


def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "courtyard.privacy_cli", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


def _one_line_error(result: subprocess.CompletedProcess[bytes], status: int = 1) -> str:
    assert result.returncode == status, result.stderr
    err = result.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert result.stdout == b""
    return err


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("keys")
    for name in ("alice", "bob", "eve"):
        result = cli("keys", "new", "--out", str(base / name))
        assert result.returncode == 0, result.stderr
        assert b"key id" in result.stdout
    assert cli("keys", "new", "--out", str(base / "signer"), "--type", "ed25519").returncode == 0
    return {name: base / name for name in ("alice", "bob", "eve", "signer")}


@pytest.fixture(scope="module")
def sealed(keys: dict[str, Path]) -> bytes:
    result = cli(
        "envelope",
        "seal",
        "--to",
        str(keys["alice"] / "public.key"),
        "--to",
        str(keys["bob"] / "public.key"),
        "--aad",
        "hub-a/fall-1/41",
        stdin=SECRET,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_keys_new_writes_an_owner_only_private_key(keys: dict[str, Path]) -> None:
    for name, directory in keys.items():
        assert stat.S_IMODE((directory / "private.key").stat().st_mode) == 0o600, name
    err = _one_line_error(cli("keys", "new", "--out", str(keys["alice"])), 2)
    assert "already exists" in err


def test_each_recipient_opens_what_was_sealed(keys: dict[str, Path], sealed: bytes) -> None:
    for name in ("alice", "bob"):
        result = cli(
            "envelope",
            "open",
            "--key",
            str(keys[name] / "private.key"),
            "--aad",
            "hub-a/fall-1/41",
            stdin=sealed,
        )
        assert (result.returncode, result.stdout) == (0, SECRET), result.stderr
    assert SECRET not in sealed


def test_open_refuses_a_wrong_key_or_wrong_aad(keys: dict[str, Path], sealed: bytes) -> None:
    eve = cli(
        "envelope",
        "open",
        "--key",
        str(keys["eve"] / "private.key"),
        "--aad",
        "hub-a/fall-1/41",
        stdin=sealed,
    )
    assert "is not a recipient" in _one_line_error(eve)
    wrong_aad = cli(
        "envelope",
        "open",
        "--key",
        str(keys["alice"] / "private.key"),
        "--aad",
        "hub-a/fall-1/42",
        stdin=sealed,
    )
    assert "does not open" in _one_line_error(wrong_aad)
    signer = cli(
        "envelope", "open", "--key", str(keys["signer"] / "private.key"), "--aad", "x", stdin=sealed
    )
    assert "sealing needs an x25519 key" in _one_line_error(signer, 2)


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 0.8, 0.99])
def test_open_refuses_a_flipped_byte(keys: dict[str, Path], sealed: bytes, fraction: float) -> None:
    damaged = bytearray(sealed)
    damaged[int(fraction * (len(sealed) - 1))] ^= 0x04
    result = cli(
        "envelope",
        "open",
        "--key",
        str(keys["alice"] / "private.key"),
        "--aad",
        "hub-a/fall-1/41",
        stdin=bytes(damaged),
    )
    _one_line_error(result)


def test_seal_refuses_a_missing_key_file(tmp_path: Path) -> None:
    result = cli("envelope", "seal", "--to", str(tmp_path / "none.key"), "--aad", "x", stdin=b"x")
    assert "does not exist" in _one_line_error(result, 2)


def test_audit_verify_says_ok_or_where_the_chain_breaks(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with AuditLog(db) as log:
        for i in range(4):
            log.append(
                actor=f"staff-{i}",
                role="property_duty",
                purpose="emergency_response",
                legal_basis="consent",
                action=AuditAction.READ,
                record_ids=[f"a-{i}"],
            )
    ok = cli("audit", "verify", "--db", str(db))
    assert ok.returncode == 0 and ok.stdout.startswith(b"OK: 4 entries")
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3")
    conn.commit()
    conn.close()
    broken = cli("audit", "verify", "--db", str(db))
    assert broken.returncode == 1
    assert broken.stdout.decode().startswith("chain broken at seq 3:")
    missing = cli("audit", "verify", "--db", str(tmp_path / "nope.db"))
    assert "no such file" in _one_line_error(missing, 2)
    assert not (tmp_path / "nope.db").exists()
