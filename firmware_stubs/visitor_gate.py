"""A visitor gate's pass reader: checks a community-signed pass with no call home.

The gate is installed with the community's pass *public* key (a factory or installer setting,
like a setup code) and decides on its own, in this order: can the pass be read, did the
community sign it, is it for this community, is it inside its window by the gate's clock, is
it revoked, has it entries left (the gate keeps its own count per pass), and, when the pass
names a plate and the camera read one, is it the same plate. Network trouble never keeps a
visitor with a good pass waiting, and a forged or copied pass is refused the same way.

Every pass shown is reported as a ``visitor_entry`` event (pass id, accepted or not, why), so
the community keeps the entry log. Revocations arrive as ``revoke_pass`` commands, signed by
the community and relayed by the gate's hub; the gate keeps the list for as long as it runs
(a restarted gate gets the still-valid revocations again from the community).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from devices.catalog import CommandName, DeviceKind, EventType
from devices.visitor_pass import (
    PASS_ID_RE,
    PassError,
    PassRefusal,
    key_id,
    plate_tag,
    read_pass,
)
from firmware_stubs.device import CommandHandler, SimulatedDevice
from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.memory import now_ms
from firmware_stubs.physics import MAINS

ACCEPTED = "accepted"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gate decided for one pass shown."""

    accepted: bool
    reason: str
    #: The pass id, once the signature verified ("" for an unreadable or forged pass).
    pass_id: str = ""
    #: Which entry of the pass this was (0 when refused).
    entry: int = 0


class VisitorGate(SimulatedDevice):
    """One gate's QR reader (and, optionally, its plate camera)."""

    kind = DeviceKind.VISITOR_GATE

    def __init__(
        self,
        identity: DeviceIdentity,
        hub_url: str,
        token: str,
        *,
        pass_key: Ed25519PublicKey | str | None = None,
        community_id: str | None = None,
        clock: Callable[[], int] = now_ms,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("battery", MAINS)
        super().__init__(identity, hub_url, token, **kwargs)
        self._key: Ed25519PublicKey | None = None
        self._community: str | None = None
        self._clock = clock
        #: Entries used per pass id (this gate's own count).
        self.used: dict[str, int] = {}
        self.revoked: set[str] = set()
        #: Every verdict, in order, for diagnostics.
        self.verdicts: list[Verdict] = []
        if pass_key is not None:
            self.trust(pass_key, community_id)

    def trust(self, pass_key: Ed25519PublicKey | str, community_id: str | None) -> None:
        """Install the community's pass public key (hex or key) and its community id."""
        if isinstance(pass_key, str):
            pass_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pass_key))
        self._key = pass_key
        self._community = community_id
        self._changed()

    def present(self, qr: str, plate: str | None = None) -> Verdict:
        """A visitor shows ``qr`` (and the camera read ``plate``, if given); never raises."""
        verdict = self._judge(qr, plate)
        if verdict.accepted:
            self.used[verdict.pass_id] = verdict.entry
        self.verdicts.append(verdict)
        data: dict[str, Any] = {
            "accepted": verdict.accepted,
            "reason": verdict.reason,
            "entry": verdict.entry,
        }
        if verdict.pass_id:  # absent for a pass that could not be read or was forged
            data["pass_id"] = verdict.pass_id
        self._emit(EventType.VISITOR_ENTRY, data=data)
        return verdict

    def _judge(self, qr: str, plate: str | None) -> Verdict:
        if self._key is None:
            return Verdict(False, str(PassRefusal.BAD_SIGNATURE))
        try:
            claims = read_pass(qr, self._key)
        except PassError as exc:
            return Verdict(False, str(exc.reason))
        refusal: PassRefusal | None = None
        if self._community is not None and claims.community != self._community:
            refusal = PassRefusal.WRONG_COMMUNITY
        else:
            refusal = claims.window_refusal(self._clock())
        if refusal is None and claims.pass_id in self.revoked:
            refusal = PassRefusal.REVOKED
        if refusal is None and self.used.get(claims.pass_id, 0) >= claims.entries:
            refusal = PassRefusal.USED_UP
        if refusal is None and claims.plate_tag and plate is not None:
            try:
                same = plate_tag(claims.pass_id, plate) == claims.plate_tag
            except ValueError:
                same = False
            refusal = None if same else PassRefusal.WRONG_PLATE
        if refusal is not None:
            return Verdict(False, str(refusal), claims.pass_id)
        return Verdict(True, ACCEPTED, claims.pass_id, self.used.get(claims.pass_id, 0) + 1)

    def revoke(self, pass_id: str) -> str | None:
        """Add a pass to the revocation list; an error text for a malformed id."""
        if not PASS_ID_RE.fullmatch(pass_id):
            return "not a pass id"
        self.revoked.add(pass_id)
        self._changed()
        return None

    def _snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {**super()._snapshot(), "revoked_passes": len(self.revoked)}
        if self._key is not None:
            snap["pass_key_id"] = key_id(self._key)
        return snap

    def _command_handlers(self) -> dict[CommandName, CommandHandler]:
        return {
            **super()._command_handlers(),
            CommandName.REVOKE_PASS: lambda args: self.revoke(str(args.get("pass_id", ""))),
        }
