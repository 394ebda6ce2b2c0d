"""Tasmota: ``tele/<topic>/SENSOR`` telemetry and the plain-text ``tele/<topic>/LWT``.

``LWT`` is ``Online``/``Offline`` (capitalised, not JSON). ``SENSOR`` is a JSON object whose
nesting is flattened to ``ANALOG/MQ2_1``-style property names. An MQ-x gas sensor on an ADC
pin reports ``MQ<type>_<index>`` in ppm (index from 1 on ESP32, from 0 on ESP8266), with no
alarm flag: the definition thresholds it, with hysteresis so a reading hovering at the limit
does not flap. ``Time`` is local time without a zone, so the caller's clock is used instead.
``STATE`` (every TelePeriod) is proof of life. The ``tele`` prefix is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from devices.adapters.definition import AdapterDefinition, Matcher, Protocol, Report, Route, Routed
from devices.adapters.pieces import threshold_alarm
from devices.adapters.readers import availability, ignore, json_object
from devices.adapters.values import payload_object
from devices.catalog import DeviceKind, EventType

NAME: Final = "tasmota"


def _read_state(captures: Mapping[str, str], payload: bytes | str) -> Routed:
    payload_object(payload, "STATE")  # validated, content not needed
    return Report(captures["device"], {})


PROTOCOL: Final = Protocol(
    name=NAME,
    description="Tasmota telemetry (tele/<topic>/SENSOR, STATE) and LWT.",
    params={"tele": "tele"},
    subscriptions=("{tele}/+/SENSOR", "{tele}/+/LWT", "{tele}/+/STATE"),
    routes=(
        Route("{tele}/{device+}/SENSOR", json_object(what="SENSOR"), "sensor telemetry"),
        Route("{tele}/{device+}/LWT", availability(("Online",), ("Offline",)), "LWT"),
        Route("{tele}/{device+}/STATE", _read_state, "periodic state (proof of life)"),
        Route("{tele}/{device+}/{rest}", ignore("other telemetry"), "other telemetry"),
    ),
)


def mq_gas(
    name: str = "tasmota_mq_gas", *, alarm_ppm: float = 1000, clear_ppm: float = 500
) -> AdapterDefinition:
    """An MQ-x gas sensor with the given thresholds (copy it with your own calibration)."""
    return AdapterDefinition(
        name=name,
        vendor="Tasmota",
        protocol=NAME,
        kind=DeviceKind.GAS_DETECTOR,
        description=f"MQ-x analog gas sensor (AdcParam 10); alarm at {alarm_ppm:g} ppm,"
        f" clear below {clear_ppm:g} ppm.",
        matcher=Matcher(properties=("ANALOG/MQ*",)),
        decoders=(
            threshold_alarm(
                "ANALOG/MQ*",
                event=EventType.GAS_ALARM,
                field="gas_state",
                alarm=alarm_ppm,
                clear=clear_ppm,
            ),
        ),
    )


MQ_GAS: Final = mq_gas()
ADAPTERS: Final[tuple[Protocol | AdapterDefinition, ...]] = (PROTOCOL, MQ_GAS)
