"""The community's OpenAPI document: it describes every route the server has, it is a valid
OpenAPI 3 document, and schemathesis, fuzzing a running community server from it, finds no
server error (the issue's own check).

The server is the real one, with a real Mosquitto, two homes' hubs, the charging shed's hub
and a port, so the fuzzer reaches enrolled homes, stored events and field pages, not only
empty lists.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from community.openapi import registered, undocumented
from tests.notices.conftest import Site, wait_for


def _app(site: Site) -> object:
    return site.community._runner.app  # type: ignore[union-attr]


async def test_every_route_is_described_and_the_document_is_served(site: Site) -> None:
    app = _app(site)
    assert undocumented(app) == []  # type: ignore[arg-type]
    base = f"http://127.0.0.1:{site.community.http_port}"
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    assert doc["openapi"].startswith("3.0")
    described = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert described == registered(app)  # type: ignore[arg-type]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"] and operation["operationId"], where
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == set(_placeholders(path)), where
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def _placeholders(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@pytest.mark.timeout(900)
async def test_schemathesis_finds_no_server_error(site: Site, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{site.community.http_port}"
    # Something to find: a charger alarm from the port overheating, and a work order.
    site.port.plug_in()
    await wait_for(lambda: site.port.port_state == "charging", "charging")
    site.port.overheat(runaway_w_per_s=3000.0)
    await wait_for(lambda: site.community.alarms(), "the port's alarm", timeout=60)
    headers = {"Authorization": f"Bearer {site.community.manager_token}"}
    order = {"home_id": "home-1", "category": "plumbing", "description": "Tap drips"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{base}/api/orders", json=order) as resp,
    ):
        assert resp.status == 201, await resp.text()
    examples = os.environ.get("COURTYARD_FUZZ_EXAMPLES", "20")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/openapi.json",
        "--header", f"Authorization: Bearer {site.community.manager_token}",
        "--checks", "not_a_server_error",
        "--max-examples", examples,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--workers", "1",
        "--seed", "20261121",
        "--generation-database", "none",
        "--request-timeout", "20",
        "--report", "json", "--report-json-path", str(tmp_path / "fuzz.json"),
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )  # fmt: skip
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    # It really exercised the API (not zero operations because the document failed to load).
    report = json.loads((tmp_path / "fuzz.json").read_text())
    operations = report["operations"]
    assert operations["tested"] == operations["total"] >= 30, operations
    assert report["test_cases"]["generated"] > 10 * operations["total"], report["test_cases"]
    assert report["test_cases"]["with_failures"] == 0 and not report["errors"], text[-4000:]
    # The server survived it and still answers.
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/health") as resp:
        assert resp.status == 200
