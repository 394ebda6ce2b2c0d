"""Regenerates, or checks, every published artefact of the interop model.

``python -m devices.generate --write`` rewrites the JSON Schema files in ``devices/schema/``
and ``docs/interop-spec.md`` from the catalog; ``--check`` exits 1 if a committed file differs
from what the catalog generates (CI runs it, so a catalog change cannot ship without its
schema and document). ``python -m devices.schema`` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from devices import schema, spec_doc

#: The repository root when running from a source checkout.
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
SCHEMA_DIR: Final = "devices/schema"


def outputs() -> dict[str, str]:
    """Every generated file's text, by path relative to the repository root."""
    files = {
        f"{SCHEMA_DIR}/{name}": schema.dumps(doc) for name, doc in schema.schema_documents().items()
    }
    files[spec_doc.DOC_PATH] = spec_doc.render()
    return files


def stale(root: Path) -> list[str]:
    """Schema files on disk that the catalog no longer generates."""
    wanted = outputs()
    return sorted(
        f"{SCHEMA_DIR}/{p.name}"
        for p in (root / SCHEMA_DIR).glob("*.schema.json")
        if f"{SCHEMA_DIR}/{p.name}" not in wanted
    )


def differences(root: Path) -> list[str]:
    """Paths whose committed text is missing, different, or no longer generated."""
    out = [
        rel
        for rel, text in outputs().items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    return out + stale(root)


def write(root: Path) -> list[str]:
    """Bring every generated file up to date; returns the paths it changed."""
    changed = differences(root)
    for rel in stale(root):
        (root / rel).unlink()
    for rel, text in outputs().items():
        if rel in changed:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devices.generate",
        description="Generate the interop JSON Schema files and docs/interop-spec.md.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")
    mode.add_argument("--write", action="store_true", help="rewrite the generated files")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    if args.write:
        for rel in write(args.root):
            print(f"wrote {rel}")
        return 0
    diff = differences(args.root)
    for rel in diff:
        print(f"out of date: {rel} (run python -m devices.generate --write)", file=sys.stderr)
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
