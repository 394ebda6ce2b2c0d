"""Every route of the care desk is described in its OpenAPI ``PATHS``, and only those."""

from __future__ import annotations

from aiohttp import web

from community import openapi
from community.web_care import PATHS, add_care_routes


def test_the_care_routes_are_exactly_the_described_ones() -> None:
    app = web.Application()
    add_care_routes(app)
    described = {(method, path) for path, item in PATHS.items() for method in item}
    assert openapi.registered(app) == described
    for item in PATHS.values():
        for operation in item.values():
            assert {"summary", "operationId", "tags", "responses"} <= set(operation)
