"""Finding devices and being found: mDNS/DNS-SD on the home LAN.

The hub advertises ``_courtyard-hub._tcp.local.`` so a resident's phone or a device can find
it, and browses ``_courtyard-dev._tcp.local.`` for unpaired devices; both records are defined
in ``devices.pairing.mdns``.

Everything heard on the LAN is untrusted: a TXT record ``parse_device_txt`` refuses is logged
once and ignored. Nothing learned here is believed without proof — a discovered fingerprint
is only a hint until pairing checks it against the key the device proves it holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from devices.catalog import DeviceKind
from devices.pairing import DEVICE_SERVICE, HUB_SERVICE, TxtError, hub_txt, parse_device_txt
from devices.pairing.announce import interfaces_for, lan_addresses

_LOG = logging.getLogger(__name__)

_RESOLVE_TIMEOUT_MS: Final = 3000
_MAX_LOGGED: Final = 256


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
            properties=hub_txt(self._hub_id, api_port),
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
