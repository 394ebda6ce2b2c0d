"""Discovery over real mDNS on loopback: the hub finds stub devices, is found itself, and
ignores advertisements it cannot trust."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from devices.catalog import DeviceKind
from devices.pairing import DEVICE_SERVICE, HUB_SERVICE, TxtError, parse_device_txt
from tests.pairing.support import MakeHub, MakeStub, discovered, eventually, unique

GOOD_TXT: dict[bytes, bytes | None] = {
    b"id": b"smoke-1",
    b"kind": b"smoke_alarm",
    b"model": b"CY-REF-SA1",
    b"fw": b"1.0.0",
    b"fp": b"0123456789abcdef",
    b"pv": b"1",
}


async def test_hub_finds_a_stub_device_and_loses_it_when_it_stops(
    make_hub: MakeHub, make_stub: MakeStub
) -> None:
    hub = await make_hub()
    stub = await make_stub(kind=DeviceKind.GAS_DETECTOR)
    await discovered(hub, stub)
    (found,) = [d for d in hub.discovered() if d.device_id == stub.device_id]
    assert found.kind is DeviceKind.GAS_DETECTOR
    assert found.model == stub.identity.model
    assert found.firmware == stub.identity.firmware
    assert found.fingerprint == stub.fingerprint
    assert (found.host, found.port) == ("127.0.0.1", stub.server.port)
    await stub.server.stop()
    await eventually(
        lambda: all(d.device_id != stub.device_id for d in hub.discovered()),
        "the advertisement to go away",
    )


async def test_hub_advertises_itself(make_hub: MakeHub) -> None:
    hub = await make_hub()
    found: asyncio.Queue[str] = asyncio.Queue()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            found.put_nowait(name)

    zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    browser = AsyncServiceBrowser(zc.zeroconf, [HUB_SERVICE], handlers=[on_change])
    try:
        while True:
            name = await asyncio.wait_for(found.get(), 15)
            info = AsyncServiceInfo(HUB_SERVICE, name)
            assert await info.async_request(zc.zeroconf, 3000)
            if info.properties.get(b"id") == hub.hub_id.encode():
                break
        assert info.properties[b"version"] == b"1"
        assert info.properties[b"port"] == str(hub.http_port).encode()
        assert info.port == hub.http_port
    finally:
        await browser.async_cancel()
        await zc.async_close()


async def test_malformed_advertisements_are_ignored(
    make_hub: MakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.discovery")
    hub = await make_hub()
    good_id = unique("good")
    bad_records = [
        {k: v for k, v in GOOD_TXT.items() if k != b"fp"},  # missing key
        GOOD_TXT | {b"kind": b"toaster"},  # unknown kind
        GOOD_TXT | {b"model": b"\xff\xfe broken"},  # not UTF-8
        GOOD_TXT | {b"fp": b"XYZ"},  # not a fingerprint
        GOOD_TXT | {b"id": b"has/slash"},  # not a device id
        GOOD_TXT
        | {b"pad": b"x" * 250, b"pad2": b"y" * 250, b"pad3": b"z" * 250, b"p4": b"w" * 250},
    ]
    records = [*bad_records, GOOD_TXT | {b"id": good_id.encode()}]
    zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    infos = []
    try:
        for n, txt in enumerate(records):
            name = f"{unique('bad') if n < len(bad_records) else good_id}.{DEVICE_SERVICE}"
            info = AsyncServiceInfo(
                DEVICE_SERVICE,
                name,
                addresses=[socket.inet_aton("127.0.0.1")],
                port=9,
                properties=txt,
                server=f"{unique('host')}.local.",
            )
            infos.append(info)
        # Registered side by side (each one probes the network for a while first).
        await asyncio.gather(*[await zc.async_register_service(i, strict=False) for i in infos])
        await eventually(
            lambda: any(d.device_id == good_id for d in hub.discovered()), "the good device"
        )
        bad_names = {i.name for i in infos[: len(bad_records)]}
        await eventually(
            lambda: all(any(n[:60] in r.getMessage() for r in caplog.records) for n in bad_names),
            "every bad advertisement to be logged as ignored",
        )
        ours = [d for d in hub.discovered() if d.name in {i.name for i in infos}]
        assert [d.device_id for d in ours] == [good_id]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{hub.http_port}/api/health") as response,
        ):
            assert response.status == 200  # the hub is still serving
    finally:
        await asyncio.gather(*[await zc.async_unregister_service(i) for i in infos])
        await zc.async_close()


def test_good_txt_parses() -> None:
    txt = parse_device_txt(GOOD_TXT | {b"future": b"ignored"})
    assert (txt.device_id, txt.kind, txt.fingerprint) == (
        "smoke-1",
        DeviceKind.SMOKE_ALARM,
        "0123456789abcdef",
    )


_keys = st.one_of(
    st.sampled_from([b"id", b"kind", b"model", b"fw", b"fp", b"pv", b"ID"]), st.binary(max_size=12)
)
_values = st.one_of(st.none(), st.binary(max_size=300), st.sampled_from(list(GOOD_TXT.values())))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=10), st.booleans())
def test_any_txt_record_parses_or_is_refused_cleanly(
    txt: dict[bytes, bytes | None], base: bool
) -> None:
    record = (GOOD_TXT | txt) if base else txt
    try:
        parsed = parse_device_txt(record)
    except TxtError:
        return
    assert parsed.kind in DeviceKind
    assert len(parsed.fingerprint) == 16 and len(parsed.device_id) <= 64


@given(
    st.one_of(
        st.none(), st.integers(), st.lists(st.binary()), st.dictionaries(st.text(), st.text())
    )
)
def test_non_mapping_or_non_bytes_txt_is_refused(value: object) -> None:
    try:
        parse_device_txt(value)  # type: ignore[arg-type]
    except TxtError:
        return
    raise AssertionError("accepted a TXT record that is not bytes -> bytes")
