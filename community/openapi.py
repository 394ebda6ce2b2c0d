"""The community's JSON API as one OpenAPI 3.0.3 document, served at ``/api/openapi.json``.

City platforms and apps integrate from this document, and the API is fuzzed from it, so it
must describe every route the server really has and nothing it has not. Each web module
describes its own routes next to them in a module-level ``PATHS`` (OpenAPI path items keyed
by the aiohttp path); this module gathers every ``community.web_*`` module's ``PATHS`` (plus
the core routes' in :mod:`community.openapi_core`), keeps the operations the running app
registered, and reports the routes no one described (:func:`undocumented`), which a test
turns into a failure: a route added tomorrow without a description does not go unnoticed.

The small schema builders here keep those descriptions short and alike.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from aiohttp import web

#: Routes that are pages or static files for browsers, not part of the JSON API.
NOT_API: Final = frozenset({"/", "/login", "/logout", "/static"})
METHODS: Final = ("get", "put", "post", "delete", "patch")

Schema = dict[str, Any]

ERROR: Final[Schema] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What was wrong, for people."}},
}
ANY_OBJECT: Final[Schema] = {"type": "object", "additionalProperties": True}
_ERRORS: Final[dict[int, str]] = {
    400: "The request was refused; nothing changed.",
    401: "No valid token.",
    403: "This role may not do this, or a cross-origin request.",
    404: "No such thing.",
    409: "The request conflicts with the current state; nothing changed.",
    413: "The body is too large.",
}


def text(max_length: int, min_length: int = 0, **extra: Any) -> Schema:
    """A string of bounded length."""
    return {"type": "string", "minLength": min_length, "maxLength": max_length, **extra}


def integer(minimum: int | None = None, maximum: int | None = None) -> Schema:
    out: Schema = {"type": "integer"}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def enum(values: Iterable[str]) -> Schema:
    return {"type": "string", "enum": [str(v) for v in values]}


def obj(properties: Mapping[str, Schema], required: Sequence[str] = ()) -> Schema:
    """A closed object: unknown members are refused by the API, so the schema says so."""
    out: Schema = {"type": "object", "properties": dict(properties), "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def path_param(name: str, schema: Schema, about: str = "") -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": about,
    }


def query_param(name: str, schema: Schema, about: str = "") -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": about,
    }


def op(
    summary: str,
    operation_id: str,
    tag: str,
    *,
    parameters: Sequence[Schema] = (),
    body: Schema | None = None,
    body_required: bool = True,
    ok: int = 200,
    response: Schema = ANY_OBJECT,
    errors: Sequence[int] = (400, 401, 403),
    content_type: str = "application/json",
) -> Schema:
    """One operation: what it does, its inputs, and the answers it gives."""
    out: Schema = {
        "summary": summary,
        "operationId": operation_id,
        "tags": [tag],
        "responses": {
            str(ok): {
                "description": "Done.",
                "content": {content_type: {"schema": response}},
            },
            **{
                str(code): {
                    "description": _ERRORS[code],
                    "content": {"application/json": {"schema": ERROR}},
                }
                for code in errors
            },
        },
    }
    if parameters:
        out["parameters"] = list(parameters)
    if body is not None:
        out["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": body}},
        }
    return out


def fragments() -> list[Mapping[str, Any]]:
    """Every ``PATHS`` of the core routes and of each ``community.web_*`` module."""
    import community

    web_modules = sorted(
        f"community.{m.name}"
        for m in pkgutil.iter_modules(community.__path__)
        if m.name.startswith("web_")
    )
    names = ["community.openapi_core", *web_modules]
    found = []
    for name in names:
        paths = getattr(importlib.import_module(name), "PATHS", None)
        if isinstance(paths, Mapping):
            found.append(paths)
    return found


def registered(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every API operation the app serves (HEAD and pages left out)."""
    out: set[tuple[str, str]] = set()
    for route in app.router.routes():
        method = route.method.lower()
        resource = route.resource
        if resource is None or method not in METHODS:
            continue
        path = resource.canonical
        if path in NOT_API or not path.startswith("/api/"):
            continue
        out.add((method, path))
    return out


def document(app: web.Application, *, title: str, version: str) -> Schema:
    """The OpenAPI document of the operations ``app`` serves."""
    served = registered(app)
    paths: dict[str, Schema] = {}
    for fragment in fragments():
        for path, item in fragment.items():
            for method, operation in item.items():
                if (method, path) in served:
                    paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": version,
            "description": "The community server's JSON API. Staff authenticate with their own"
            " token (Authorization: Bearer); a city platform reads the CAP feed with its"
            " read-only token. Every refusal is a JSON object with an 'error' member.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }


def undocumented(app: web.Application) -> list[tuple[str, str]]:
    """API operations the app serves that no ``PATHS`` describes."""
    described = {
        (method, path)
        for fragment in fragments()
        for path, item in fragment.items()
        for method in item
    }
    return sorted(registered(app) - described)
