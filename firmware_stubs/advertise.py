"""mDNS/DNS-SD advertisement of an unpaired device, so a hub on the LAN finds it.

The service type, instance name and TXT record are defined in ``devices.pairing.mdns``; the
port is the pairing endpoint's.
"""

from __future__ import annotations

import logging

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from devices.pairing import DEVICE_SERVICE, DeviceTxt, device_instance, device_txt
from devices.pairing.announce import interfaces_for, lan_addresses
from firmware_stubs.identity import DeviceIdentity

_LOG = logging.getLogger("firmware_stubs.advertise")


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
        return device_instance(self._fingerprint)

    async def start(self) -> None:
        if self._zc is not None:
            return
        identity = self._identity
        properties = device_txt(
            DeviceTxt(
                identity.device_id,
                identity.kind,
                identity.model,
                identity.firmware,
                self._fingerprint,
            )
        )
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
