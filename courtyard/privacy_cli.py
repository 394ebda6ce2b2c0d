"""``courtyard keys | envelope | audit``: the privacy primitives from a shell.

For operators and device makers checking their own implementation against ours: make keys,
seal bytes to recipients, open them, open a field fetched from a community mailbox
(``envelope open-field``), verify an audit log. Every failure is one line on stderr
and a non-zero exit status, never a traceback, and never any key material.

Exit status: 0 success; 1 the data does not verify (tampered, wrong key, wrong associated
data, broken audit chain); 2 bad usage or an unreadable input file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from community.mailbox import MailboxError, parse_entry
from privacy.audit import AuditError, verify_file
from privacy.keys import (
    KeyFileError,
    KeyType,
    key_id,
    load_sealing_private_key,
    load_sealing_public_key,
    load_signing_public_key,
    new_keypair,
)
from privacy.sealed_fields import open_field
from privacy.sealing import MAX_SEALED_BYTES, SealError, open_sealed, seal_for

#: Top-level subcommands this module adds to ``courtyard``.
COMMANDS: Final = ("keys", "envelope", "audit")
#: Plaintext read for sealing; the sealed form must still fit MAX_SEALED_BYTES.
MAX_PLAINTEXT: Final = 32 * 1024
#: One mailbox entry as fetched (a sealed field is at most 4 KiB of ciphertext).
MAX_ENTRY_BYTES: Final = 16 * 1024


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys``, ``envelope`` and ``audit`` to the ``courtyard`` parser."""
    keys = sub.add_parser("keys", help="make key pairs for sealing or signing")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    new = keys_sub.add_parser(
        "new",
        help="write DIR/private.key (owner-only) and DIR/public.key",
        description="Generate a key pair. X25519 keys receive sealed fields; Ed25519 keys sign.",
    )
    new.add_argument("--out", type=Path, required=True, metavar="DIR")
    new.add_argument(
        "--type",
        choices=[t.value for t in KeyType],
        default=KeyType.X25519.value,
        help="x25519 (sealing, default) or ed25519 (signing)",
    )

    envelope = sub.add_parser("envelope", help="seal bytes to recipients, or open them")
    env_sub = envelope.add_subparsers(dest="envelope_command", required=True)
    seal = env_sub.add_parser(
        "seal",
        help="stdin -> sealed JSON on stdout",
        description="Seal stdin to every --to key (HPKE X25519); the recipient id of each is "
        "its key id. The associated data must be given again, byte for byte, to open.",
    )
    seal.add_argument("--to", type=Path, action="append", required=True, metavar="PUBKEY_FILE")
    seal.add_argument("--aad", required=True, metavar="TEXT", help="associated data (UTF-8)")
    open_ = env_sub.add_parser(
        "open",
        help="sealed JSON on stdin -> plaintext on stdout",
        description="Open a sealed field; exits 1 on any altered byte, wrong key or wrong AAD.",
    )
    open_.add_argument("--key", type=Path, required=True, metavar="PRIVKEY_FILE")
    open_.add_argument("--aad", required=True, metavar="TEXT", help="associated data (UTF-8)")
    open_field = env_sub.add_parser(
        "open-field",
        help="one mailbox entry JSON on stdin -> the field's value (JSON) on stdout",
        description="Open a sealed field fetched from a community mailbox (GET /api/mailbox/"
        "{recipient}: one item of 'entries', or its 'entry'). The context it names (hub, "
        "device, event, sequence, time) is bound into it: exits 1 on any altered byte, "
        "wrong key or moved context.",
    )
    open_field.add_argument("--key", type=Path, required=True, metavar="PRIVKEY_FILE")

    audit = sub.add_parser("audit", help="check a hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="print OK, or where the chain breaks (exit 1)",
        description="Walk the audit log's hash chain (opened read-only) and, for each "
        "--checkpoint-key, check every signed checkpoint too.",
    )
    verify.add_argument("--db", type=Path, required=True, metavar="FILE")
    verify.add_argument(
        "--checkpoint-key", type=Path, action="append", default=[], metavar="PUBKEY_FILE"
    )


class _CommandError(Exception):
    """One line for stderr, and the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _read_stdin(limit: int, what: str) -> bytes:
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise _CommandError(f"{what} on stdin exceeds {limit} bytes", 2)
    return data


def _aad(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _CommandError("--aad is not valid UTF-8 text", 2) from None


def _keys_new(args: argparse.Namespace) -> int:
    files = new_keypair(args.out, KeyType(args.type))
    print(
        f"wrote {files.private} ({files.key_type.value}, owner-only) and {files.public}; "
        f"key id {files.key_id}"
    )
    return 0


def _envelope_seal(args: argparse.Namespace) -> int:
    recipients = {}
    for path in args.to:
        public = load_sealing_public_key(path)
        recipients[key_id(public)] = public
    plaintext = _read_stdin(MAX_PLAINTEXT, "plaintext")
    sealed = seal_for(recipients, plaintext, _aad(args.aad))
    sys.stdout.buffer.write(sealed.to_json() + b"\n")
    sys.stdout.buffer.flush()
    return 0


def _envelope_open(args: argparse.Namespace) -> int:
    private = load_sealing_private_key(args.key)
    raw = _read_stdin(MAX_SEALED_BYTES + 1, "sealed field")
    if raw.endswith(b"\n"):  # exactly the one newline `seal` writes; nothing else is forgiven
        raw = raw[:-1]
    try:
        plaintext = open_sealed(raw, key_id(private.public_key()), private, _aad(args.aad))
    except SealError as exc:
        raise _CommandError(str(exc), 1) from None
    sys.stdout.buffer.write(plaintext)
    sys.stdout.buffer.flush()
    return 0


def _entry_json(raw: bytes) -> object:
    def refuse(token: str) -> object:
        raise ValueError(f"{token} is not JSON")

    try:
        item = json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _CommandError("stdin is not one JSON mailbox entry", 1) from None
    # A whole fetched item ({"id", "created_ms", "entry"}) or just its entry.
    if isinstance(item, dict) and set(item) == {"id", "created_ms", "entry"}:
        return item["entry"]
    return item


def _envelope_open_field(args: argparse.Namespace) -> int:
    private = load_sealing_private_key(args.key)
    item = _entry_json(_read_stdin(MAX_ENTRY_BYTES, "mailbox entry"))
    try:
        sealed, context = parse_entry(item)
    except MailboxError as exc:
        raise _CommandError(f"not a mailbox entry: {exc}", 1) from None
    value = open_field(sealed, private, context)
    sys.stdout.write(json.dumps(value, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    keys = {}
    for path in args.checkpoint_key:
        public = load_signing_public_key(path)
        keys[key_id(public)] = public
    result = verify_file(args.db, keys or None)
    print(result.describe())
    return 0 if result.ok else 1


_HANDLERS: Final = {
    ("keys", "new"): _keys_new,
    ("envelope", "seal"): _envelope_seal,
    ("envelope", "open"): _envelope_open,
    ("envelope", "open-field"): _envelope_open_field,
    ("audit", "verify"): _audit_verify,
}


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``keys``/``envelope``/``audit`` command; return the exit status."""
    command = str(args.command)
    action = str(getattr(args, f"{command}_command", ""))
    handler = _HANDLERS.get((command, action))
    if handler is None:
        print(f"courtyard: unknown command {command} {action}", file=sys.stderr)
        return 2
    where = f"courtyard {command} {action}"
    try:
        return handler(args)
    except _CommandError as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return exc.status
    except SealError as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return 1
    except (KeyFileError, AuditError) as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m courtyard.privacy_cli``), same commands as ``courtyard``."""
    parser = argparse.ArgumentParser(prog="courtyard", description="Courtyard privacy tools.")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
