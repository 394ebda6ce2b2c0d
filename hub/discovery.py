"""Finding devices and being found: mDNS/DNS-SD on the home LAN.

The hub advertises ``_courtyard-hub._tcp.local.`` (TXT ``id``, ``version``, ``port``) so a
resident's phone or a device can find it, and browses ``_courtyard-dev._tcp.local.`` for
unpaired devices (TXT ``id``, ``kind``, ``model``, ``fw``, ``fp``, ``pv``).

Everything heard on the LAN is untrusted: a TXT record with a key missing, an unknown kind,
a value that is not UTF-8 or simply too much data is logged once and ignored. Nothing
learned here is believed without proof — a discovered fingerprint is only a hint until
pairing checks it against the key the device proves it holds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from devices.catalog import DeviceKind
from devices.messages import DEVICE_ID_RE
from hub.pairing_wire import PROTOCOL_VERSION, is_fingerprint

_LOG = logging.getLogger(__name__)

DEVICE_SERVICE: Final = "_courtyard-dev._tcp.local."
HUB_SERVICE: Final = "_courtyard-hub._tcp.local."
HUB_TXT_VERSION: Final = "1"
#: A device's whole TXT record must fit in this (ours is about 120 bytes).
MAX_TXT_BYTES: Final = 1024
_REQUIRED: Final = ("id", "kind", "model", "fw", "fp")
_LIMITS: Final = {"id": 64, "kind": 32, "model": 64, "fw": 32, "fp": 16, "pv": 4}
_RESOLVE_TIMEOUT_MS: Final = 3000
_WILDCARDS: Final = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind
_MAX_LOGGED: Final = 256


class TxtError(ValueError):
    """A device's TXT record is not one we accept; the message says why (no raw bytes)."""


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """An unpaired device advertising itself; ``name`` is its mDNS instance name."""

    name: str
    device_id: str
    kind: DeviceKind
    model: str
    firmware: str
    fingerprint: str
    host: str
    port: int
    #: Milliseconds since the Unix epoch when this advertisement was first seen.
    first_seen: int

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "kind": str(self.kind),
            "model": self.model,
            "firmware": self.firmware,
            "fingerprint": self.fingerprint,
            "first_seen": self.first_seen,
        }


@dataclass(frozen=True, slots=True)
class DeviceTxt:
    device_id: str
    kind: DeviceKind
    model: str
    firmware: str
    fingerprint: str


def _printable(value: str) -> bool:
    return value.isprintable()


def parse_device_txt(properties: Mapping[Any, Any]) -> DeviceTxt:
    """Validate a ``_courtyard-dev`` TXT record as zeroconf hands it over (bytes -> bytes)."""
    if not isinstance(properties, Mapping):
        raise TxtError("TXT record is not a key/value list")
    size = 0
    fields: dict[str, str] = {}
    for raw_key, raw_value in properties.items():
        if not isinstance(raw_key, bytes) or not (
            raw_value is None or isinstance(raw_value, bytes)
        ):
            raise TxtError("TXT keys and values must be bytes")
        size += len(raw_key) + 1 + len(raw_value or b"")
        if size > MAX_TXT_BYTES:
            raise TxtError("TXT record is too large")
        try:
            key = raw_key.decode("utf-8").lower()
        except UnicodeDecodeError:
            raise TxtError("a TXT key is not UTF-8") from None
        if key not in _LIMITS:
            continue  # a newer firmware's extra field: ignored, not fatal
        if raw_value is None:
            raise TxtError(f"TXT {key} has no value")
        try:
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            raise TxtError(f"TXT {key} is not UTF-8") from None
        if not 0 < len(value) <= _LIMITS[key] or not _printable(value):
            raise TxtError(f"TXT {key} must be 1..{_LIMITS[key]} printable characters")
        fields[key] = value
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise TxtError(f"TXT record lacks {', '.join(missing)}")
    if fields.get("pv", str(PROTOCOL_VERSION)) != str(PROTOCOL_VERSION):
        raise TxtError("unsupported pairing protocol version")
    if not DEVICE_ID_RE.fullmatch(fields["id"]):
        raise TxtError("TXT id is not a valid device id")
    try:
        kind = DeviceKind(fields["kind"])
    except ValueError:
        raise TxtError("TXT kind is not a known device kind") from None
    if not is_fingerprint(fields["fp"]):
        raise TxtError("TXT fp must be 16 lowercase hex digits")
    return DeviceTxt(fields["id"], kind, fields["model"], fields["fw"], fields["fp"])


def lan_addresses(host: str) -> list[bytes]:
    """The IPv4 addresses to announce for ``host``: itself, or every non-loopback one."""
    if host not in _WILDCARDS:
        return [socket.inet_aton(host)]
    found = [
        socket.inet_aton(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
    ]
    return found or [socket.inet_aton("127.0.0.1")]


def interfaces_for(host: str) -> list[str] | InterfaceChoice:
    """Speak mDNS where the hub listens: that one address, or every interface."""
    return InterfaceChoice.All if host in _WILDCARDS else [host]


class Discovery:
    """Advertises the hub and keeps the list of unpaired devices on the LAN."""

    def __init__(
        self, *, hub_id: str, host: str, on_change: Callable[[], None] | None = None
    ) -> None:
        self._hub_id = hub_id
        self._host = host
        self._on_change = on_change
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._hub_info: AsyncServiceInfo | None = None
        self._found: dict[str, DiscoveredDevice] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._logged: set[str] = set()

    def devices(self) -> list[DiscoveredDevice]:
        return sorted(self._found.values(), key=lambda d: (d.device_id, d.fingerprint))

    def candidates(self, device_id: str) -> list[DiscoveredDevice]:
        return [d for d in self.devices() if d.device_id == device_id]

    async def start(self, api_port: int) -> None:
        """Start browsing and advertising; if mDNS cannot start, the hub runs on without it."""
        try:
            self._zc = AsyncZeroconf(
                interfaces=interfaces_for(self._host), ip_version=IPVersion.V4Only
            )
            self._browser = AsyncServiceBrowser(
                self._zc.zeroconf, [DEVICE_SERVICE], handlers=[self._on_service]
            )
        except Exception:
            _LOG.exception("hub %s: mDNS discovery is unavailable", self._hub_id)
            if self._zc is not None:
                await self._zc.async_close()
            self._zc = self._browser = None
            return
        self._spawn(self._advertise(api_port))

    async def stop(self) -> None:
        zc, self._zc = self._zc, None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if zc is None:
            return
        if self._browser is not None:
            await self._browser.async_cancel()
        try:
            if self._hub_info is not None:
                await (await zc.async_unregister_service(self._hub_info))
        finally:
            await zc.async_close()

    async def _advertise(self, api_port: int) -> None:
        assert self._zc is not None
        self._hub_info = AsyncServiceInfo(
            HUB_SERVICE,
            f"{self._hub_id[:60]}.{HUB_SERVICE}",
            addresses=lan_addresses(self._host),
            port=api_port,
            properties={"id": self._hub_id, "version": HUB_TXT_VERSION, "port": str(api_port)},
            server=f"courtyard-{abs(hash(self._hub_id)) % 10**8}.local.",
        )
        try:
            await (await self._zc.async_register_service(self._hub_info, allow_name_change=True))
        except Exception:
            _LOG.exception("hub %s: cannot advertise over mDNS", self._hub_id)
            self._hub_info = None

    # --- browsing --------------------------------------------------------------------------

    def _on_service(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            if self._found.pop(name, None) is not None:
                self._changed()
            return
        self._spawn(self._resolve(service_type, name))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        if self._zc is None:
            return
        info = AsyncServiceInfo(service_type, name)
        try:
            if not await info.async_request(self._zc.zeroconf, _RESOLVE_TIMEOUT_MS):
                return
            txt = parse_device_txt(info.properties)
            addresses = info.parsed_addresses(IPVersion.V4Only)
            if not addresses or not info.port:
                raise TxtError("no IPv4 address or port")
        except TxtError as exc:
            self._ignore(name, str(exc))
            return
        except Exception as exc:  # anything a hostile packet could provoke inside zeroconf
            self._ignore(name, f"unreadable advertisement ({type(exc).__name__})")
            return
        old = self._found.get(name)
        found = DiscoveredDevice(
            name=name,
            device_id=txt.device_id,
            kind=txt.kind,
            model=txt.model,
            firmware=txt.firmware,
            fingerprint=txt.fingerprint,
            host=addresses[0],
            port=int(info.port),
            first_seen=old.first_seen if old else time.time_ns() // 1_000_000,
        )
        if found != old:
            self._found[name] = found
            _LOG.info("discovered %s %s (fp %s)", found.kind, found.device_id, found.fingerprint)
            self._changed()

    def _ignore(self, name: str, reason: str) -> None:
        if self._found.pop(name, None) is not None:
            self._changed()
        key = f"{name}|{reason}"
        if key in self._logged:
            return
        if len(self._logged) < _MAX_LOGGED:
            self._logged.add(key)
        _LOG.warning("ignoring mDNS advertisement %r: %s", name[:80], reason)

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:
                _LOG.exception("discovery listener failed")
