"""Pairing, as the resident asks for it: "add device X with code C, call it N, in room R".

The :class:`Pairer` finds the device among the discovered ones, enforces the hub's own
pairing window for it, runs the session (``hub.pairing_session``) over a WebSocket to the
device's pairing endpoint, and lets the runtime register the device only once the session
proved both the code and the device's key. Every refusal is a :class:`PairingError` with a
stable ``code`` the API returns and the UI translates.

The hub's window mirrors the device's: it opens when the advertisement is first seen, lasts
at most 10 minutes, closes for good after 20 wrong attempts, and is single-use. A device that
restarts its pairing mode advertises afresh and so gets a fresh window on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.messages import DEVICE_ID_RE
from devices.pairing import (
    MAX_FAILURES,
    MAX_FRAME_BYTES,
    MAX_WINDOW_S,
    PAIR_PATH,
    PairingCode,
    PeerError,
    ProtocolError,
    is_fingerprint,
    is_valid_code,
    parse_qr,
)
from hub.core import now_ms
from hub.discovery import DiscoveredDevice
from hub.pairing_session import Admit, Issued, SessionResult, WrongCodeError, run_hub_session

_LOG = logging.getLogger(__name__)

MAX_LABEL: Final = 64


class Refusal(StrEnum):
    """Why a pairing request failed; the API's ``code`` field."""

    BAD_REQUEST = "bad_request"
    INVALID_CODE = "invalid_code"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    WINDOW_CLOSED = "window_closed"
    WRONG_CODE = "wrong_code"
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"
    ALREADY_PAIRED = "already_paired"
    BUSY = "busy"
    UNREACHABLE = "unreachable"
    PROTOCOL_ERROR = "protocol_error"


#: HTTP status per refusal: the request is wrong (400), the thing is missing (404), or the
#: state of the world refuses it now (409); a device we cannot reach is the gateway's 502.
STATUS: Final[dict[Refusal, int]] = {
    Refusal.BAD_REQUEST: 400,
    Refusal.INVALID_CODE: 400,
    Refusal.WRONG_CODE: 400,
    Refusal.FINGERPRINT_MISMATCH: 400,
    Refusal.NOT_FOUND: 404,
    Refusal.AMBIGUOUS: 409,
    Refusal.WINDOW_CLOSED: 409,
    Refusal.ALREADY_PAIRED: 409,
    Refusal.BUSY: 409,
    Refusal.UNREACHABLE: 502,
    Refusal.PROTOCOL_ERROR: 502,
}

_PEER_REFUSALS: Final[dict[PairingCode | None, Refusal]] = {
    PairingCode.WINDOW_CLOSED: Refusal.WINDOW_CLOSED,
    PairingCode.BUSY: Refusal.BUSY,
    PairingCode.WRONG_CODE: Refusal.WRONG_CODE,
    PairingCode.ALREADY_PAIRED: Refusal.ALREADY_PAIRED,
    PairingCode.FINGERPRINT_MISMATCH: Refusal.FINGERPRINT_MISMATCH,
}


def _peer_code(code: str) -> PairingCode | None:
    try:
        return PairingCode(code)
    except ValueError:
        return None


class PairingError(Exception):
    def __init__(self, code: Refusal, message: str, attempts_left: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.attempts_left = attempts_left

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "code": str(self.code)}
        if self.attempts_left is not None:
            body["attempts_left"] = self.attempts_left
        return body


def clean_label(value: object, name: str) -> str:
    """A device name or room: 1..64 printable characters, trimmed."""
    if not isinstance(value, str):
        raise PairingError(Refusal.BAD_REQUEST, f"{name} must be text")
    text = value.strip()
    if not 0 < len(text) <= MAX_LABEL or not text.isprintable():
        raise PairingError(Refusal.BAD_REQUEST, f"{name} must be 1..{MAX_LABEL} characters")
    return text


@dataclass(frozen=True, slots=True)
class PairRequest:
    """A validated request; build it with :meth:`from_json` from untrusted input."""

    device_id: str
    code: str
    name: str
    room: str
    #: From a scanned QR code: the device must prove it holds the key with this fingerprint.
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        if not DEVICE_ID_RE.fullmatch(self.device_id):
            raise PairingError(Refusal.BAD_REQUEST, "device_id must be a valid device id")
        if not is_valid_code(self.code):
            raise PairingError(
                Refusal.INVALID_CODE, "a setup code is 8 digits, and never a trivial one"
            )
        if self.fingerprint is not None and not is_fingerprint(self.fingerprint):
            raise PairingError(Refusal.BAD_REQUEST, "fingerprint must be 16 lowercase hex")
        clean_label(self.name, "name")
        clean_label(self.room, "room")

    @classmethod
    def from_json(cls, body: object) -> PairRequest:
        if not isinstance(body, dict):
            raise PairingError(Refusal.BAD_REQUEST, "the body must be a JSON object")
        allowed = {"device_id", "code", "name", "room", "fingerprint", "qr"}
        unknown = sorted(str(k)[:40] for k in body if k not in allowed)
        if unknown:
            raise PairingError(Refusal.BAD_REQUEST, f"unknown field(s): {', '.join(unknown)}")
        name = clean_label(body.get("name"), "name")
        room = clean_label(body.get("room"), "room")
        if "qr" in body:
            if any(k in body for k in ("device_id", "code", "fingerprint")):
                raise PairingError(Refusal.BAD_REQUEST, "give either qr or device_id and code")
            try:
                qr = parse_qr(body["qr"])
            except ValueError as exc:
                raise PairingError(Refusal.BAD_REQUEST, str(exc)) from None
            return cls(qr.device_id, qr.code, name, room, qr.fingerprint)
        device_id, code, fp = body.get("device_id"), body.get("code"), body.get("fingerprint")
        if not isinstance(device_id, str):
            raise PairingError(Refusal.BAD_REQUEST, "device_id must be a valid device id")
        if not isinstance(code, str) or len(code) > 20:
            raise PairingError(Refusal.BAD_REQUEST, "code must be the 8-digit setup code")
        if fp is not None and not isinstance(fp, str):
            raise PairingError(Refusal.BAD_REQUEST, "fingerprint must be 16 lowercase hex")
        return cls(device_id, code.replace(" ", "").replace("-", ""), name, room, fp)


@dataclass(slots=True)
class Window:
    opened: int
    failures: int = 0
    used: bool = False
    busy: bool = False


@dataclass(frozen=True, slots=True)
class WindowView:
    open: bool
    attempts_left: int
    closes_at: int


class _WebSocketChannel:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, step_timeout_s: float) -> None:
        self._ws = ws
        self._timeout = step_timeout_s

    async def send(self, text: str) -> None:
        await self._ws.send_str(text)

    async def receive(self) -> str:
        try:
            message = await self._ws.receive(self._timeout)
        except TimeoutError:
            raise ProtocolError(PairingCode.TIMEOUT, "the device did not answer in time") from None
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise ProtocolError(PairingCode.BAD_MESSAGE, "the device closed the pairing link")
        return str(message.data)


@dataclass
class Pairer:
    """Pairs discovered devices; see the module docstring for the window rules."""

    hub_id: str
    hub_key: Ed25519PrivateKey
    #: Advertisements of a device id currently on the LAN.
    candidates: Callable[[str], list[DiscoveredDevice]]
    #: Register the device with its proven key; returns its token and the link URL.
    #: Raises PairingError(ALREADY_PAIRED) if the id belongs to a different key.
    admit: Callable[[DiscoveredDevice, PairRequest, bytes], Issued]
    #: Refuse early (no attempt spent) when the id is taken by a different key.
    check_free: Callable[[str, str], None]
    window_s: float = MAX_WINDOW_S
    max_failures: int = MAX_FAILURES
    connect_timeout_s: float = 5.0
    step_timeout_s: float = 10.0
    _windows: dict[tuple[str, int], Window] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.window_s <= MAX_WINDOW_S:
            raise ValueError("the pairing window lasts more than 0 and at most 600 seconds")

    def window(self, device: DiscoveredDevice) -> WindowView:
        win = self._windows.get((device.name, device.first_seen)) or Window(device.first_seen)
        closes_at = device.first_seen + int(self.window_s * 1000)
        return WindowView(
            open=self._closed_reason(win, closes_at) is None,
            attempts_left=max(0, self.max_failures - win.failures),
            closes_at=closes_at,
        )

    def _closed_reason(self, win: Window, closes_at: int) -> str | None:
        if win.used:
            return "this device was just paired; restart its pairing mode to pair it again"
        if win.failures >= self.max_failures:
            return "pairing closed after 20 wrong codes; restart the device's pairing mode"
        if now_ms() >= closes_at:
            return "the pairing window expired; restart the device's pairing mode"
        return None

    def _pick(self, request: PairRequest) -> DiscoveredDevice:
        found = self.candidates(request.device_id)
        if request.fingerprint is not None:
            found = [d for d in found if d.fingerprint == request.fingerprint]
        if not found:
            raise PairingError(
                Refusal.NOT_FOUND,
                f"no device {request.device_id} is waiting to be paired"
                " (is it in pairing mode and on this network?)",
            )
        if len({d.fingerprint for d in found}) > 1:
            raise PairingError(
                Refusal.AMBIGUOUS,
                f"more than one device claims to be {request.device_id};"
                " scan its QR code to pick the right one",
            )
        return found[0]

    async def pair(self, request: PairRequest) -> DiscoveredDevice:
        device = self._pick(request)
        self.check_free(device.device_id, device.fingerprint)
        self._prune()
        key = (device.name, device.first_seen)
        win = self._windows.setdefault(key, Window(device.first_seen))
        closes_at = device.first_seen + int(self.window_s * 1000)
        reason = self._closed_reason(win, closes_at)
        if reason is not None:
            raise PairingError(Refusal.WINDOW_CLOSED, reason, 0 if not win.used else None)
        if win.busy:
            raise PairingError(Refusal.BUSY, "this device is being paired right now")
        win.busy = True
        try:
            await self._session(device, request, win)
        finally:
            win.busy = False
        win.used = True
        return device

    def _prune(self) -> None:
        horizon = now_ms() - 2 * int(self.window_s * 1000)
        for key in [k for k, w in self._windows.items() if w.opened < horizon]:
            del self._windows[key]

    async def _session(self, device: DiscoveredDevice, request: PairRequest, win: Window) -> None:
        expected = request.fingerprint or device.fingerprint

        refusals: list[PairingError] = []

        async def admit(public_key: bytes) -> Issued:
            try:
                return self.admit(device, request, public_key)
            except PairingError as refused:
                refusals.append(refused)
                raise ProtocolError(PairingCode.ALREADY_PAIRED, refused.message) from None

        url = f"http://{device.host}:{device.port}{PAIR_PATH}"
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout_s)
        started = False
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                try:
                    ws = await session.ws_connect(url, max_msg_size=MAX_FRAME_BYTES, autoping=True)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    raise PairingError(
                        Refusal.UNREACHABLE,
                        f"cannot reach {device.device_id} at its pairing address"
                        f" ({type(exc).__name__})",
                    ) from None
                async with ws:
                    started = True
                    result = await self._run(ws, device, request, expected, admit)
        except WrongCodeError as wrong:
            win.failures += 1
            left = self.max_failures - win.failures
            if wrong.attempts_left is not None:
                left = min(left, wrong.attempts_left)
            _LOG.warning("pairing %s: wrong setup code (%d left)", device.device_id, left)
            raise PairingError(
                Refusal.WRONG_CODE, "wrong setup code: nothing was changed", max(0, left)
            ) from None
        except PeerError as peer:
            refusal = _PEER_REFUSALS.get(_peer_code(peer.code), Refusal.PROTOCOL_ERROR)
            if refusal is Refusal.WRONG_CODE:
                win.failures += 1
            raise PairingError(
                refusal, peer.message or f"the device refused: {peer.code}", peer.attempts_left
            ) from None
        except ProtocolError as exc:
            if refusals:
                raise refusals[0] from None
            if started:
                win.failures += 1
            refusal = (
                Refusal.FINGERPRINT_MISMATCH
                if exc.code is PairingCode.FINGERPRINT_MISMATCH
                else Refusal.PROTOCOL_ERROR
            )
            _LOG.warning("pairing %s refused: %s", device.device_id, exc.message)
            raise PairingError(refusal, exc.message) from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            win.failures += 1
            raise PairingError(
                Refusal.PROTOCOL_ERROR, f"the pairing link broke ({type(exc).__name__})"
            ) from None
        _LOG.info("paired %s %s (fp %s)", device.kind, device.device_id, result.fingerprint)

    async def _run(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        device: DiscoveredDevice,
        request: PairRequest,
        expected: str,
        admit: Admit,
    ) -> SessionResult:
        channel = _WebSocketChannel(ws, self.step_timeout_s)
        try:
            return await run_hub_session(
                channel,
                hub_id=self.hub_id,
                hub_key=self.hub_key,
                device_id=device.device_id,
                code=request.code,
                expected_fingerprint=expected,
                admit=admit,
            )
        finally:
            with contextlib.suppress(ConnectionError, RuntimeError, asyncio.CancelledError):
                await ws.close()
