"""Where to announce over mDNS: the addresses and interfaces for a listening host.

Kept out of ``devices.pairing``'s top level because it asks the operating system (and
zeroconf) rather than describing the wire; hub and device stubs both use it.
"""

from __future__ import annotations

import socket
from typing import Final

import ifaddr
from zeroconf import InterfaceChoice

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
    """Speak mDNS only where we listen: one address, or every interface for a wildcard."""
    return InterfaceChoice.All if host in _WILDCARDS else [host]
