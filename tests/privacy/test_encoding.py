"""Canonical encodings: one byte string per value, strict base64url, millisecond UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.encoding import (
    EncodingError,
    b64url,
    canonical_json,
    iso_ms,
    loads_strict,
    parse_iso_ms,
    unb64url,
)
from tests.privacy.support import FAST


def test_canonical_json_matches_jcs_for_our_subset() -> None:
    value = {"b": [1, True, None, "é\n"], "a": {"z": -5, "y": ""}}
    assert canonical_json(value) == '{"a":{"y":"","z":-5},"b":[1,true,null,"é\\n"]}'.encode()
    for bad in ({"k": 1.5}, {"ключ": 1}, {1: 2}, {"k": b"x"}, {"k": "\ud800"}):
        with pytest.raises(EncodingError):
            canonical_json(bad)


@FAST
@given(st.binary(max_size=64))
def test_base64url_round_trips(data: bytes) -> None:
    assert unb64url(b64url(data)) == data
    assert "=" not in b64url(data)


@pytest.mark.parametrize("text", ["AB=", "A", "AB+", "AB/", "AF", " AA", "AA\n"])
def test_non_canonical_base64url_is_refused(text: str) -> None:
    with pytest.raises(EncodingError):
        unb64url(text)


def test_times_are_utc_milliseconds_and_strict() -> None:
    moment = datetime(2026, 11, 21, 19, 30, 1, 123456, tzinfo=UTC)
    assert iso_ms(moment) == "2026-11-21T19:30:01.123Z"
    assert iso_ms(moment.astimezone(timezone(timedelta(hours=8)))) == "2026-11-21T19:30:01.123Z"
    assert parse_iso_ms("2026-11-21T19:30:01.123Z") == moment.replace(microsecond=123000)
    for bad in ("2026-11-21T19:30:01Z", "2026-11-21 19:30:01.123Z", "2026-13-21T19:30:01.123Z"):
        with pytest.raises(EncodingError):
            parse_iso_ms(bad)
    with pytest.raises(EncodingError):
        iso_ms(datetime(2026, 1, 1))


def test_strict_json_refuses_duplicates_and_non_finite_numbers() -> None:
    assert loads_strict('{"a":1}') == {"a": 1}
    for bad in ('{"a":1,"a":2}', '{"a":NaN}', '{"a":Infinity}', b"\xff", "{"):
        with pytest.raises(EncodingError):
            loads_strict(bad)
