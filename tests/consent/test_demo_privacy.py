"""The demo with consent enforced, and a scan of the raw bytes of every database it left.

Some residents share falls with family only (the community learns of a fall under the
emergency override alone), one withdraws consent mid-run, one is erased at the end: every
alarm still reaches responders, and no database holds a fall's confidence in plaintext.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from community.community_key import load_or_create_community_key
from courtyard.demo.layout import HOME_DEVICES
from hub.keys import load_or_create_hub_key
from privacy.atrest import DeletionReceipt, KeyStore, ShreddedError, read_kek_file, verify_receipt
from privacy.audit import verify_file

#: A confidence as any plaintext store would hold it (event JSON, payload JSON).
PLAINTEXT_CONFIDENCE = re.compile(rb'confidence"?\s*[:=]\s*[0-9]')
#: The ``kind`` of an interop message, which precedes its ``data`` in the wire JSON.
MESSAGE_KIND = re.compile(rb'"kind"\s*:\s*"([a-z_]+)"')
#: The community's own gateways (charging shed, lift and lane): no resident's home is
#: behind them, and the lift camera's e-bike detection confidence describes no person.
COMMON_AREA_HUBS = ("hub-shed-a", "hub-common-1")


def _sensitive_confidences(raw: bytes) -> list[int]:
    """Offsets of plaintext confidences not of an elevator camera's e-bike detection.

    Only a stored wire message says whose confidence it is (its ``kind`` comes just before
    its ``data``); a confidence with no message kind right before it counts as sensitive.
    """
    found = []
    for match in PLAINTEXT_CONFIDENCE.finditer(raw):
        kinds = MESSAGE_KIND.findall(raw[max(0, match.start() - 200) : match.start()])
        if not kinds or kinds[-1] != b"elevator_camera":
            found.append(match.start())
    return found


@pytest.mark.timeout(180)
def test_demo_enforces_consent_and_leaves_no_sensitive_plaintext(tmp_path: Path) -> None:
    report_file, data_dir = tmp_path / "r.json", tmp_path / "data"
    run = subprocess.run(
        [
            sys.executable, "-m", "courtyard.cli", "demo", "--headless", "--homes", "7",
            "--duration", "14", "--report", str(report_file), "--data-dir", str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(report_file.read_text())
    privacy = report["privacy"]
    assert report["lost"] == 0 and report["alarms_delivered"] == report["alarms_injected"]
    assert privacy["hub_consent"] == privacy["community_consent"] == "enforce"
    withdrawn = privacy["withdrawn"]
    assert len(withdrawn) == 1 and "withdraws consent" in run.stdout
    # The withdrawn home's telemetry stayed home; its emergency call still got through.
    assert sum(privacy["homes"][withdrawn[0]]["withheld"].values()) >= 1
    assert privacy["homes"][withdrawn[0]]["overrides"] >= 1
    # Falls (sensitive, never in the duty consent) reached the board under the override only,
    # without the resident's device name (and, in the home erased at the end, with none).
    falls = [a for a in report["alarms"] if a["kind"] == "fall_detected"]
    erased_home = privacy["erasure"]["home"]
    assert falls and all(
        a["device_name"] == ("" if a["home_id"] == erased_home else "fall_detector") for a in falls
    )
    assert privacy["overrides_used"] >= len(falls)
    erasure = privacy["erasure"]
    assert erasure["receipt_id"] in run.stdout

    databases = sorted(
        p
        for p in data_dir.rglob("*")
        if re.search(r"\.db(-wal|-shm)?$", p.name) and not set(p.parts) & set(COMMON_AREA_HUBS)
    )
    assert len(databases) >= 7 * 4  # hub, audit, consent, keys per home, and more
    for path in databases:
        assert not _sensitive_confidences(path.read_bytes()), path
    # ...though the falls did carry a confidence: it rests only as ciphertext at the hub.
    sealed = 0
    for hub in _hubs(data_dir):
        with sqlite3.connect(data_dir / "hubs" / hub / "hub.db") as db:
            rows = db.execute("SELECT data FROM event_log WHERE event = 'fall_detected'")
            sealed += sum("sealed_at_rest" in str(r[0]) for r in rows)
    assert sealed >= len(falls)
    # Pseudonymous resident ids live in the consent ledger and audit log, never in the
    # operational stores the duty staff read.
    for name in ("community/community.db", *(f"hubs/{h}/hub.db" for h in _hubs(data_dir))):
        raw = (data_dir / name).read_bytes()
        assert b"r-1-" not in raw, name
    for audit in data_dir.rglob("audit.db"):
        assert verify_file(audit).ok, audit

    # Erasure: the receipt verifies with the hub's key, and the key store cannot decrypt.
    erased_hub = data_dir / "hubs" / f"hub-{erasure['home']}"
    hub_key = load_or_create_hub_key(erased_hub / "hub_key.pem")  # exists: only loaded
    receipt = DeletionReceipt.from_dict(erasure["receipt"])
    verify_receipt(receipt, hub_key.public_key())
    with (
        KeyStore(
            erased_hub / "keys.db",
            read_kek_file(erased_hub / "kek.key"),
            hub_key,
        ) as keys,
        pytest.raises(ShreddedError),
    ):
        keys.encrypt(receipt.resident_id, b"x", "probe")

    # The erasure reached the community: its own receipt verifies with the community key,
    # and the community's key store cannot use that resident's data key any more.
    community_dir = data_dir / "community"
    community_key = load_or_create_community_key(community_dir / "community_key.pem")
    assert erasure["community_answer"] == "erased"
    community_receipt = DeletionReceipt.from_dict(erasure["community_receipt"])
    verify_receipt(community_receipt, community_key.public_key())
    assert community_receipt.store == "community"
    assert erasure["community_receipt_id"] in run.stdout
    with (
        KeyStore(
            community_dir / "keys.db", read_kek_file(community_dir / "kek.key"), community_key
        ) as keys,
        pytest.raises(ShreddedError),
    ):
        keys.encrypt(community_receipt.resident_id, b"x", "probe")
    # The community's copy holds no resident's device name in plaintext (they rest sealed
    # under the residents' keys), yet the board showed them, and the erased home's as "".
    community_raw = b"".join(p.read_bytes() for p in community_dir.glob("community.db*"))
    for role in HOME_DEVICES:
        assert role.name.encode() not in community_raw, role.name
    shown = {a["device_name"] for a in report["alarms"] if a["home_id"] != erasure["home"]}
    assert shown & {role.name for role in HOME_DEVICES}
    assert all(
        (a["device_name"], a["room"]) == ("", "")
        for a in report["alarms"]
        if a["home_id"] == erasure["home"]
    )


def _hubs(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "hubs").iterdir() if p.is_dir())
