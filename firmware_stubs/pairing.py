"""The device side of pairing: a pairing window, a tiny pairing endpoint, and the session.

While unpaired, the device listens on ``GET /pair`` (a WebSocket) and advertises itself over
mDNS; a hub connects and runs the protocol of ``devices.pairing`` (SPAKE2 side B). The
window is the device's own guard, whatever any hub does:

* it lasts at most 10 minutes from when it opened;
* it closes after 20 wrong attempts — every session that got a ``pake_b`` answer without
  then proving the code counts, including one the peer simply abandoned, since that answer
  is exactly what an attacker needs for one guess;
* it is single-use: once a hub paired, it closes and advertising stops;
* one session at a time; a second hub gets ``busy``.

Wrong codes get an ``error`` frame naming the code and the attempts left; nothing about the
device changes until a session completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSMsgType, web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from spake2 import SPAKE2_B

from devices.messages import DEVICE_ID_RE
from devices.pairing import (
    DEVICE_SIGNATURE_LABEL,
    HUB_SIGNATURE_LABEL,
    MAX_FAILURES,
    MAX_FRAME_BYTES,
    MAX_WINDOW_S,
    PAIR_PATH,
    STEP_TIMEOUT_S,
    PairingCode,
    PeerError,
    ProtocolError,
    SessionKeys,
    b64,
    error_frame,
    frame,
    open_box,
    parse_frame,
    qr_payload,
    seal_box,
    spake_ids,
    transcript_hash,
    unb64,
)
from firmware_stubs.advertise import DeviceAdvertiser
from firmware_stubs.device_secrets import DeviceSecrets, HubCredentials
from firmware_stubs.identity import DeviceIdentity

_LOG = logging.getLogger("firmware_stubs.pairing")

_MAX_URL: Final = 512


@dataclass(slots=True)
class PairingWindow:
    duration_s: float = MAX_WINDOW_S
    max_failures: int = MAX_FAILURES
    opened_at: float = field(default_factory=time.monotonic)
    failures: int = 0
    used: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.duration_s <= MAX_WINDOW_S:
            raise ValueError("a pairing window lasts more than 0 and at most 600 seconds")
        if not 1 <= self.max_failures <= MAX_FAILURES:
            raise ValueError("max_failures must be 1..20")

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_failures - self.failures)

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.opened_at + self.duration_s - time.monotonic())

    def closed_reason(self) -> str | None:
        """Why no session may start now, or None while the window is open."""
        if self.used:
            return "already paired"
        if self.failures >= self.max_failures:
            return "closed after too many wrong setup codes"
        if self.remaining_s <= 0:
            return "pairing window expired"
        return None


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ProtocolError(PairingCode.BAD_MESSAGE, f"{name} must be 1..{limit} characters")
    return value


class PairingServer:
    """The pairing endpoint plus its advertisement; :meth:`wait_paired` yields credentials."""

    def __init__(
        self,
        identity: DeviceIdentity,
        secrets: DeviceSecrets,
        *,
        window: PairingWindow | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        advertise: bool = True,
        on_paired: Callable[[HubCredentials], None] | None = None,
        step_timeout_s: float = STEP_TIMEOUT_S,
    ) -> None:
        self.identity = identity
        self.secrets = secrets
        self.window = window or PairingWindow()
        self._host = host
        self._port = port
        self._advertise = advertise
        self._on_paired = on_paired
        self._step_timeout_s = step_timeout_s
        self._session_lock = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._advertiser: DeviceAdvertiser | None = None
        self._paired: asyncio.Future[HubCredentials] | None = None
        self._closer: asyncio.Task[None] | None = None
        #: Sessions that ended, with the error code they ended on ("" for success).
        self.outcomes: list[str] = []

    @property
    def port(self) -> int:
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the pairing server is not started")
        return int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}{PAIR_PATH}"

    @property
    def setup_code(self) -> str:
        return self.secrets.setup_code

    @property
    def qr_payload(self) -> str:
        return qr_payload(
            self.identity.device_id,
            self.identity.kind,
            self.secrets.fingerprint,
            self.secrets.setup_code,
        )

    @property
    def advertising(self) -> bool:
        return self._advertiser is not None

    async def start(self) -> None:
        self._paired = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get(PAIR_PATH, self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        if self._advertise:
            self._advertiser = DeviceAdvertiser(
                self.identity, self.secrets.fingerprint, self._host, self.port
            )
            await self._advertiser.start()
        self._closer = asyncio.create_task(self._close_at_expiry())
        _LOG.info(
            "%s: pairing window open for %.0f s on port %d",
            self.identity.device_id,
            self.window.remaining_s,
            self.port,
        )

    async def wait_paired(self, timeout: float | None = None) -> HubCredentials:  # noqa: ASYNC109
        assert self._paired is not None, "start() first"
        return await asyncio.wait_for(asyncio.shield(self._paired), timeout)

    async def stop(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._closer
        await self._stop_advertising()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _stop_advertising(self) -> None:
        advertiser, self._advertiser = self._advertiser, None
        if advertiser is not None:
            await advertiser.stop()

    async def _close_at_expiry(self) -> None:
        await asyncio.sleep(self.window.remaining_s)
        _LOG.info("%s: pairing window expired", self.identity.device_id)
        await self._stop_advertising()

    # --- one session -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, compress=False, timeout=2.0)
        await ws.prepare(request)
        reason = self.window.closed_reason()
        if reason is not None:
            await self._refuse(ws, PairingCode.WINDOW_CLOSED, reason)
        elif self._session_lock.locked():
            await self._refuse(ws, PairingCode.BUSY, "another pairing session is running")
        else:
            async with self._session_lock:
                await self._session(ws, request.remote or "?")
        return ws

    async def _refuse(self, ws: web.WebSocketResponse, code: PairingCode, message: str) -> None:
        self.outcomes.append(str(code))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(error_frame(code, message, self.window.attempts_left))
            await ws.close()

    async def _receive(self, ws: web.WebSocketResponse, expected: str) -> dict[str, Any]:
        try:
            message = await ws.receive(self._step_timeout_s)
        except TimeoutError:
            raise ProtocolError(PairingCode.TIMEOUT, f"no {expected} in time") from None
        if message.type is not WSMsgType.TEXT:
            raise ProtocolError(PairingCode.BAD_MESSAGE, f"expected {expected}; link closed")
        return parse_frame(message.data, expected)

    async def _session(self, ws: web.WebSocketResponse, peer: str) -> None:
        device_id = self.identity.device_id
        counted = False
        try:
            first = await self._receive(ws, "pake_a")
            hub_id = _text(first, "hub_id", 64)
            if not DEVICE_ID_RE.fullmatch(hub_id):
                raise ProtocolError(PairingCode.BAD_MESSAGE, "hub_id is not valid")
            if first.get("device_id") != device_id:
                raise ProtocolError(PairingCode.WRONG_DEVICE, f"this is {device_id}")
            p_a = unb64(first.get("pA"), "pA", 33)
            # From here the hub can test one guess: count it unless it proves the code.
            self.window.failures += 1
            counted = True
            keys, p_b = self._spake(hub_id, p_a)
            await ws.send_str(
                frame(
                    "pake_b",
                    pB=b64(p_b),
                    cB=b64(keys.device_confirmation()),
                    attempts_left=self.window.attempts_left,
                )
            )
            confirm = await self._receive(ws, "confirm")
            if not hmac.compare_digest(unb64(confirm.get("cA"), "cA", 32), keys.hub_confirmation()):
                raise ProtocolError(PairingCode.WRONG_CODE, "wrong setup code")
            self.window.failures -= 1
            counted = False
            credentials = await self._exchange_keys(ws, keys, hub_id)
        except ProtocolError as exc:
            _LOG.warning("%s: pairing from %s refused: %s", device_id, peer, exc.message)
            await self._refuse(ws, exc.code, exc.message)
            await self._after_failure(counted)
            return
        except PeerError as exc:
            _LOG.warning("%s: hub %s ended pairing: %s", device_id, peer, exc.code)
            self.outcomes.append(exc.code)
            await self._after_failure(counted)
            return
        except (ConnectionError, RuntimeError) as exc:
            _LOG.warning("%s: pairing link lost: %s", device_id, type(exc).__name__)
            self.outcomes.append("disconnected")
            await self._after_failure(counted)
            return
        self.window.used = True
        self.outcomes.append("")
        _LOG.info("%s: paired with hub %s", device_id, credentials.hub_id)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close()
        await self._stop_advertising()
        if self._paired is not None and not self._paired.done():
            self._paired.set_result(credentials)

    async def _after_failure(self, counted: bool) -> None:
        if counted and self.window.closed_reason() is not None:
            _LOG.warning(
                "%s: pairing window closed: %s",
                self.identity.device_id,
                self.window.closed_reason(),
            )
            await self._stop_advertising()

    def _spake(self, hub_id: str, p_a: bytes) -> tuple[SessionKeys, bytes]:
        id_a, id_b = spake_ids(hub_id, self.identity.device_id)
        side = SPAKE2_B(self.secrets.setup_code.encode("ascii"), idA=id_a, idB=id_b)
        p_b = bytes(side.start())
        try:
            spake_key = bytes(side.finish(p_a))
        except Exception as exc:  # the library raises several types for a bad element
            raise ProtocolError(PairingCode.BAD_MESSAGE, "pA is not a SPAKE2 element") from exc
        transcript = transcript_hash(hub_id, self.identity.device_id, p_a, p_b)
        return SessionKeys.derive(spake_key, transcript), p_b

    async def _exchange_keys(
        self, ws: web.WebSocketResponse, keys: SessionKeys, hub_id: str
    ) -> HubCredentials:
        t = keys.transcript
        signature = self.secrets.private_key.sign(DEVICE_SIGNATURE_LABEL + t)
        body = {"public_key": b64(self.secrets.public_key_raw), "signature": b64(signature)}
        await ws.send_str(
            frame("device_key", box=seal_box(keys.box_device, 0, "device_key", t, body))
        )
        sealed = await self._receive(ws, "credentials")
        creds = open_box(keys.box_hub, 0, "credentials", t, sealed.get("box"))
        if not isinstance(creds, dict):
            raise ProtocolError(PairingCode.BAD_MESSAGE, "credentials must be an object")
        if creds.get("hub_id") != hub_id:
            raise ProtocolError(PairingCode.BAD_MESSAGE, "credentials name another hub")
        hub_key = unb64(creds.get("hub_public_key"), "hub_public_key", 32)
        try:
            Ed25519PublicKey.from_public_bytes(hub_key).verify(
                unb64(creds.get("signature"), "signature", 64), HUB_SIGNATURE_LABEL + t
            )
        except InvalidSignature:
            raise ProtocolError(PairingCode.BAD_MESSAGE, "hub signature does not verify") from None
        hub_url = _text(creds, "hub_url", _MAX_URL)
        if not hub_url.startswith(("ws://", "wss://")):
            raise ProtocolError(PairingCode.BAD_MESSAGE, "hub_url must be ws:// or wss://")
        token = _text(creds, "token", 512)
        if len(token) < 16:
            raise ProtocolError(PairingCode.BAD_MESSAGE, "token too short")
        credentials = HubCredentials(hub_id, hub_key, hub_url, token)
        if self._on_paired is not None:
            self._on_paired(credentials)  # persisted before the hub hears "done"
        await ws.send_str(frame("done", box=seal_box(keys.box_device, 1, "done", t, {"ok": True})))
        return credentials
