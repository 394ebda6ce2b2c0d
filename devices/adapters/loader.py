"""Where adapters come from: built-ins, installed packages, and a local folder.

An installed package declares an entry point in the group ``courtyard.adapters``; a folder
holds ``*.py`` files and package folders (names starting with ``_`` are skipped). Either way
the object found is a :class:`Protocol`, an :class:`AdapterDefinition`, an iterable of them,
a callable returning those, or a module with an ``ADAPTERS`` iterable.

A plugin runs inside the hub, so a broken one (it fails to import, raises, exits, or
declares something invalid) is logged, listed in the :class:`LoadReport` and skipped whole;
loading never raises. Loading a folder runs its code: point it only at code you trust.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Final

from devices.adapters import shelly, tasmota, zigbee2mqtt
from devices.adapters.adapterset import Adapter, AdapterSet
from devices.adapters.definition import AdapterDefinition, Protocol

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final = "courtyard.adapters"

BUILTINS: Final[tuple[Adapter, ...]] = (
    *zigbee2mqtt.ADAPTERS,
    *shelly.GEN1_ADAPTERS,
    *tasmota.ADAPTERS,
    # Last: its patterns ({prefix}/events/rpc, {prefix}/online) have a free-form prefix.
    *shelly.GEN2_ADAPTERS,
)


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """One plugin that was skipped, and why (one line)."""

    source: str
    reason: str


@dataclass(slots=True)
class LoadReport:
    """What loading found: the sources loaded and the ones skipped."""

    loaded: list[str] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def builtin_adapters() -> AdapterSet:
    return AdapterSet().extend(BUILTINS)


def _items(obj: object) -> list[Adapter]:
    """The adapters a plugin object stands for (ValueError if it is none of the shapes)."""
    if isinstance(obj, ModuleType):
        if not hasattr(obj, "ADAPTERS"):
            raise ValueError("module has no ADAPTERS")
        obj = obj.ADAPTERS
    if callable(obj) and not isinstance(obj, Protocol | AdapterDefinition):
        obj = obj()
    if isinstance(obj, Protocol | AdapterDefinition):
        return [obj]
    if isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        items = list(obj)
        for item in items:
            if not isinstance(item, Protocol | AdapterDefinition):
                raise ValueError(f"{type(item).__name__} is not a Protocol or AdapterDefinition")
        return items
    raise ValueError(f"{type(obj).__name__} is not an adapter, a list of adapters or a module")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _add(adapters: AdapterSet, source: str, load: object, report: LoadReport) -> None:
    """Load one plugin into ``adapters`` all or nothing."""
    try:
        obj = load() if callable(load) else load
        trial = adapters.copy().extend(_items(obj))
    except (Exception, SystemExit) as exc:
        log.error("adapter plugin %s skipped: %s", source, _one_line(exc))
        report.problems.append(LoadProblem(source, _one_line(exc)))
        return
    adapters.protocols, adapters.definitions = trial.protocols, trial.definitions
    report.loaded.append(source)


def _import_file(path: Path) -> ModuleType:
    """Import a ``.py`` file, or a package folder, under a private unique module name."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"courtyard_local_adapter_{path.stem}_{digest}"
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_adapters(
    *,
    folder: Path | None = None,
    entry_points: bool = True,
    builtins: bool = True,
) -> tuple[AdapterSet, LoadReport]:
    """Built-ins, then installed plugins, then a folder's files (later ones take precedence
    for the same device). Never raises; problems are in the report."""
    report = LoadReport()
    adapters = AdapterSet()
    if builtins:
        _add(adapters, "builtin", BUILTINS, report)
    if entry_points:
        try:
            found = sorted(
                importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
            )
        except Exception as exc:
            found = []
            report.problems.append(LoadProblem("entry points", _one_line(exc)))
        for ep in found:
            _add(adapters, f"entry point {ep.name} ({ep.value})", ep.load, report)
    if folder is not None:
        if not folder.is_dir():
            report.problems.append(LoadProblem(str(folder), "not a folder"))
        else:
            for path in sorted(folder.iterdir()):
                plugin = path.suffix == ".py" or (path / "__init__.py").is_file()
                if plugin and not path.name.startswith(("_", ".")):
                    _add(adapters, str(path), partial(_import_file, path), report)
    return adapters, report
