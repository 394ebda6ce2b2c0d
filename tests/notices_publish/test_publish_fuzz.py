"""Hypothesis over publish bodies: never a 5xx, and a refused body writes nothing."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.notices_publish.conftest import Estate

pytestmark = pytest.mark.timeout(300)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_TEXT = (
    st.text(max_size=30)
    | st.text(min_size=190, max_size=4100)
    | st.sampled_from(["", " ", "\u0000", "\ud800", "line\nbreak", "水停了", "1", "1-101"])
)
_HOMES = st.lists(
    st.sampled_from(["1-101", "1-102", "2-101", "common-1", "9-909", "", " "])
    | st.text(max_size=70),
    max_size=6,
)
_AUDIENCE = st.fixed_dictionaries(
    {},
    optional={
        "scope": st.sampled_from(["community", "building", "homes", "street", ""]) | _JSON,
        "building": st.sampled_from(["1", "2", "9", " 1 "]) | _JSON,
        "homes": _HOMES | _JSON,
        "extra": _JSON,
    },
)
_BODY = st.fixed_dictionaries(
    {},
    optional={
        "title": _TEXT | _JSON,
        "body": _TEXT | _JSON,
        "audience": _AUDIENCE | _JSON,
        "urgent": st.booleans() | _JSON,
        "by": st.text(max_size=10),
    },
)


def _counts(estate: Estate) -> tuple[int, int, int]:
    return (
        estate.table("SELECT count(*) AS n FROM notices")[0]["n"],
        estate.table("SELECT count(*) AS n FROM notice_deliveries")[0]["n"],
        estate.table("SELECT count(*) AS n FROM published_notices")[0]["n"],
    )


def _post(estate: Estate, raw: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        estate.url + "/api/notices",
        data=raw,
        method="POST",
        headers={
            "Authorization": f"Bearer {estate.community.manager_token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_publish_bodies_never_crash_and_refusals_write_nothing(estate: Estate) -> None:
    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=_BODY | _JSON, junk=st.none() | st.binary(max_size=64))
    def check(body: Any, junk: bytes | None) -> None:
        raw = junk if junk is not None else json.dumps(body).encode("utf-8", "surrogatepass")
        before = _counts(estate)
        status, answer = _post(estate, raw)
        assert status < 500, answer
        assert isinstance(answer, dict)
        after = _counts(estate)
        if status == 201:
            hubs = answer["notice"]["counts"]["hubs"]
            assert hubs >= 1
            assert after == (before[0] + 1, before[1] + hubs, before[2] + 1)
        else:
            assert 400 <= status < 500
            assert isinstance(answer.get("error"), str) and answer["error"]
            assert after == before

    await asyncio.to_thread(check)
