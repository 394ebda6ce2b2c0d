"""mDNS/DNS-SD advertisement of an unpaired device, so a hub on the LAN finds it.

Service ``_courtyard-dev._tcp.local.``, instance ``cy-<fingerprint>`` (unique per key, so two
devices never fight over a name, and a copycat advertising another's id shows up as a second
entry instead of replacing the first). TXT: ``id``, ``kind``, ``model``, ``fw``, ``fp``
(key fingerprint) and ``pv`` (pairing protocol version); the port is the pairing endpoint's.
"""

from __future__ import annotations

import logging
import socket
from typing import Final

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from firmware_stubs.identity import DeviceIdentity
from firmware_stubs.pairing_protocol import PROTOCOL_VERSION

_LOG = logging.getLogger("firmware_stubs.advertise")

DEVICE_SERVICE: Final = "_courtyard-dev._tcp.local."
_WILDCARDS: Final = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind


def lan_addresses(host: str) -> list[bytes]:
    """The IPv4 addresses to announce for ``host``: itself, or every non-loopback one."""
    if host not in _WILDCARDS:
        try:
            return [socket.inet_aton(host)]
        except OSError:
            raise ValueError(f"advertising needs an IPv4 address, not {host[:60]!r}") from None
    found = [
        socket.inet_aton(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
    ]
    return found or [socket.inet_aton("127.0.0.1")]


def interfaces_for(host: str) -> list[str] | InterfaceChoice:
    """Advertise only where we listen: one address, or every interface for a wildcard."""
    return InterfaceChoice.All if host in _WILDCARDS else [host]


class DeviceAdvertiser:
    """Registers one ``_courtyard-dev`` service while the pairing window is open."""

    def __init__(self, identity: DeviceIdentity, key_fingerprint: str, host: str, port: int):
        self._identity = identity
        self._fingerprint = key_fingerprint
        self._host = host
        self._port = port
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None

    @property
    def instance_name(self) -> str:
        return f"cy-{self._fingerprint}.{DEVICE_SERVICE}"

    async def start(self) -> None:
        if self._zc is not None:
            return
        identity = self._identity
        properties = {
            "id": identity.device_id,
            "kind": str(identity.kind),
            "model": identity.model,
            "fw": identity.firmware,
            "fp": self._fingerprint,
            "pv": str(PROTOCOL_VERSION),
        }
        self._zc = AsyncZeroconf(interfaces=interfaces_for(self._host), ip_version=IPVersion.V4Only)
        self._info = AsyncServiceInfo(
            DEVICE_SERVICE,
            self.instance_name,
            addresses=lan_addresses(self._host),
            port=self._port,
            properties=properties,
            server=f"cy-{self._fingerprint}.local.",
        )
        await (await self._zc.async_register_service(self._info, allow_name_change=True))
        _LOG.info("%s: advertising for pairing", identity.device_id)

    async def stop(self) -> None:
        zc, self._zc = self._zc, None
        if zc is None:
            return
        try:
            if self._info is not None:
                await (await zc.async_unregister_service(self._info))
        finally:
            await zc.async_close()
        _LOG.info("%s: stopped advertising", self._identity.device_id)
