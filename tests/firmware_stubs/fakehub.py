"""A small hub for testing devices: the hub side of the native device link, with fault knobs.

It speaks the link as the brief specifies (bearer token, hello first, ack after accept,
idempotent re-ack of a seen seq, sequence_regression for an unseen old one, errors with a
ref for bad frames) on a real aiohttp server, and records every frame so a test can check
what a device really put on the wire. Faults: drop acks, close links, refuse connections,
send commands and garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from devices.catalog import CommandName, DeviceKind
from devices.messages import (
    Ack,
    Command,
    Error,
    ErrorCode,
    Event,
    Heartbeat,
    Hello,
    InteropError,
    Message,
    State,
    decode_json,
    encode,
    parse_message,
)

WS_PATH = "/api/device/ws"


@dataclass
class Frame:
    """One text frame a device sent: which link it came on, the raw text, and what it parsed to."""

    link: int
    device_id: str
    raw: str
    msg: Message | None
    error: InteropError | None


@dataclass
class DeviceRecord:
    """What the hub knows about one provisioned device."""

    device_id: str
    kind: DeviceKind
    last_seq: int | None = None
    #: Raw frame of every report accepted, by seq (the idempotency check).
    accepted: dict[int, str] = field(default_factory=dict)
    #: Seqs in the order first seen on the wire (accepted or not).
    first_seen: list[int] = field(default_factory=list)
    seen_raw: dict[int, str] = field(default_factory=dict)
    #: Seqs seen again after their first sighting (resends).
    resent: list[int] = field(default_factory=list)
    regressions: list[int] = field(default_factory=list)
    hellos: int = 0


class FakeHub:
    def __init__(self) -> None:
        self.devices: dict[str, DeviceRecord] = {}
        self._tokens: dict[str, str] = {}
        self.frames: list[Frame] = []
        #: Frames that were the first on their link (must all be hellos).
        self.first_frames: list[Frame] = []
        self.attempts = 0
        self.links = 0
        self.unauthorized = 0
        self.auth_headers: list[str] = []
        self.drop_acks = False
        #: When set, every connection attempt gets this HTTP status instead of a WebSocket.
        self.refuse_status: int | None = None
        self.command_acks: dict[str, Ack] = {}
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    # --- server ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get(WS_PATH, self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for ws in list(self.sockets.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        """Stop and start again on the same port (devices see refused connections meanwhile)."""
        port = self.port
        await self.close()
        await self.start(port)

    # --- provisioning ----------------------------------------------------------------------

    def provision(self, device_id: str, kind: DeviceKind) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = device_id
        self.devices.setdefault(device_id, DeviceRecord(device_id, kind))
        return token

    def add_token(self, token: str, device_id: str, kind: DeviceKind) -> None:
        self._tokens[token] = device_id
        self.devices.setdefault(device_id, DeviceRecord(device_id, kind))

    # --- the link --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        if self.refuse_status is not None:
            return web.Response(status=self.refuse_status)
        header = request.headers.get("Authorization", "")
        self.auth_headers.append(header)
        scheme, _, token = header.partition(" ")
        device_id = self._tokens.get(token) if scheme == "Bearer" else None
        if device_id is None:
            self.unauthorized += 1
            return web.Response(status=401, text="unknown device token")
        record = self.devices[device_id]
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.links += 1
        link = self.links
        first = True
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                rec = self._record(link, device_id, frame.data)
                if first:
                    first = False
                    self.first_frames.append(rec)
                    if not await self._hello(ws, record, rec):
                        break
                    self.sockets[device_id] = ws
                    continue
                await self._on_frame(ws, record, rec)
        finally:
            if self.sockets.get(device_id) is ws:
                del self.sockets[device_id]
        return ws

    def _record(self, link: int, device_id: str, raw: str) -> Frame:
        try:
            msg: Message | None = parse_message(raw)
            error = None
        except InteropError as exc:
            msg, error = None, exc
        rec = Frame(link, device_id, raw, msg, error)
        self.frames.append(rec)
        return rec

    async def _hello(self, ws: web.WebSocketResponse, record: DeviceRecord, rec: Frame) -> bool:
        hello = rec.msg
        if not isinstance(hello, Hello):
            await ws.send_str(encode(Error(ErrorCode.MALFORMED, "hello expected first")))
            await ws.close()
            return False
        if hello.device_id != record.device_id or hello.kind != record.kind:
            await ws.send_str(
                encode(Error(ErrorCode.WRONG_DEVICE, "token belongs to another device", "hello"))
            )
            await ws.close()
            return False
        record.hellos += 1
        await ws.send_str(encode(Ack("hello")))
        return True

    async def _on_frame(self, ws: web.WebSocketResponse, record: DeviceRecord, rec: Frame) -> None:
        msg = rec.msg
        if msg is None:
            assert rec.error is not None
            await ws.send_str(encode(Error(rec.error.code, rec.error.reason[:256], _ref(rec.raw))))
            return
        if isinstance(msg, Ack):
            self.command_acks[msg.ref] = msg
            return
        if not isinstance(msg, State | Event | Heartbeat) or msg.device_id != record.device_id:
            await ws.send_str(encode(Error(ErrorCode.WRONG_DEVICE, "unexpected message")))
            return
        seq = msg.seq
        if seq in record.seen_raw:
            record.resent.append(seq)
        else:
            record.first_seen.append(seq)
            record.seen_raw[seq] = rec.raw
        if seq in record.accepted:
            reply: Message = Ack(str(seq))
        elif record.last_seq is not None and seq <= record.last_seq:
            record.regressions.append(seq)
            reply = Error(ErrorCode.SEQUENCE_REGRESSION, f"seq {seq} is not after", str(seq))
        else:
            record.accepted[seq] = rec.raw
            record.last_seq = seq
            if self.drop_acks:
                return
            reply = Ack(str(seq))
        await ws.send_str(encode(reply))

    # --- test controls ---------------------------------------------------------------------

    async def drop(self, device_id: str) -> None:
        """Close the device's link from the hub side."""
        ws = self.sockets.get(device_id)
        if ws is not None:
            await ws.close()

    async def send_command(
        self,
        device_id: str,
        command: CommandName,
        args: dict[str, Any] | None = None,
        *,
        to: str | None = None,
    ) -> str:
        """Send a command on ``device_id``'s link (addressed to ``to`` if given); returns its id."""
        command_id = uuid.uuid4().hex
        cmd = Command(to or device_id, command_id, command, dict(args or {}))
        await self.send_raw(device_id, encode(cmd))
        return command_id

    async def send_raw(self, device_id: str, data: str | bytes) -> None:
        ws = self.sockets[device_id]
        if isinstance(data, bytes):
            await ws.send_bytes(data)
        else:
            await ws.send_str(data)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Poll ``predicate`` until true; TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)

    async def command_ack(self, command_id: str, timeout: float = 10.0) -> Ack:
        await self.wait_for(lambda: command_id in self.command_acks, timeout)
        return self.command_acks[command_id]

    # --- what the hub saw ------------------------------------------------------------------

    def messages(self, device_id: str) -> list[Message]:
        return [f.msg for f in self.frames if f.device_id == device_id and f.msg is not None]

    def events(self, device_id: str, *, include_resent: bool = False) -> list[Event]:
        seen: set[int] = set()
        out = []
        for msg in self.messages(device_id):
            if isinstance(msg, Event) and (include_resent or msg.seq not in seen):
                seen.add(msg.seq)
                out.append(msg)
        return out

    def states(self, device_id: str) -> list[State]:
        return [m for m in self.messages(device_id) if isinstance(m, State)]

    def heartbeats(self, device_id: str) -> list[Heartbeat]:
        return [m for m in self.messages(device_id) if isinstance(m, Heartbeat)]

    def last_state(self, device_id: str) -> dict[str, Any]:
        """All state fields folded in order (absent fields keep their last value)."""
        out: dict[str, Any] = {}
        for state in self.states(device_id):
            out.update(state.state)
        return out

    def assert_protocol_ok(self) -> None:
        """Invariants every device must keep, whatever the test did."""
        bad = [(f.raw[:200], str(f.error)) for f in self.frames if f.error is not None]
        assert not bad, f"frames that fail parse_message: {bad}"
        for f in self.first_frames:
            assert isinstance(f.msg, Hello), f"first frame on a link was not hello: {f.raw[:200]}"
        for record in self.devices.values():
            seqs = record.first_seen
            assert all(a < b for a, b in itertools.pairwise(seqs)), (
                f"{record.device_id}: new seqs not strictly increasing: {seqs}"
            )
            for seq in record.resent:
                original = decode_json(record.seen_raw[seq])
                assert original["type"] == "event", f"seq {seq} resent but it is not an event"
            for f in self.frames:
                msg = f.msg
                if isinstance(msg, Event) and f.device_id == record.device_id:
                    assert f.raw == record.seen_raw[msg.seq], f"seq {msg.seq} resent changed"


def _ref(raw: str) -> str:
    with contextlib.suppress(InteropError):
        seq = decode_json(raw).get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            return str(seq)
    return ""
