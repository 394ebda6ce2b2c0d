"""Built-ins, installed plugins (entry points) and a local folder; broken plugins are
reported and skipped, never raised."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest

from devices.adapters import (
    ENTRY_POINT_GROUP,
    AdapterSession,
    SequenceCounter,
    builtin_adapters,
    load_adapters,
)
from devices.adapters.conformance import DEFAULT_NOW_MS

GOOD = """
import dataclasses
from devices.adapters.zigbee2mqtt import SMOKE

# A look-alike in four lines: the generic smoke definition, named for one model.
ADAPTERS = [SMOKE.with_models("acme_hs9", "ACME-HS9", vendor="Acme")]
"""

BROKEN = {
    "syntax.py": "def (:\n",
    "raises.py": "raise RuntimeError('boom')\n",
    "exits.py": "import sys\nsys.exit(3)\n",
    "empty.py": "x = 1\n",
    "wrong_type.py": "ADAPTERS = ['not an adapter']\n",
    "unknown_protocol.py": textwrap.dedent(
        """
        import dataclasses
        from devices.adapters.zigbee2mqtt import SMOKE
        ADAPTERS = [dataclasses.replace(SMOKE, name="lost", protocol="nowhere")]
        """
    ),
    "duplicate.py": "from devices.adapters.zigbee2mqtt import SMOKE\nADAPTERS = [SMOKE]\n",
    "bad_command.py": textwrap.dedent(
        """
        import dataclasses
        from devices.adapters.zigbee2mqtt import WATER_LEAK, SILENCE
        ADAPTERS = [dataclasses.replace(WATER_LEAK, name="loud_leak", encoders=(SILENCE,))]
        """
    ),
}


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def test_builtins_load_cleanly() -> None:
    adapters, report = load_adapters(entry_points=False)
    assert report.ok and report.loaded == ["builtin"]
    assert set(adapters.protocols) == {"zigbee2mqtt", "shelly_gen1", "tasmota", "shelly_gen2"}


def test_broken_plugins_are_reported_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "adapters"
    _write(folder, {**BROKEN, "good.py": GOOD, "_private.py": "raise SystemExit"})
    with caplog.at_level(logging.ERROR):
        adapters, report = load_adapters(folder=folder, entry_points=False)
    skipped = {Path(p.source).name: p.reason for p in report.problems}
    assert set(skipped) == set(BROKEN)
    assert all(reason and "\n" not in reason for reason in skipped.values())
    assert "boom" in skipped["raises.py"] and "SystemExit" in skipped["exits.py"]
    assert "ADAPTERS" in skipped["empty.py"] and "nowhere" in skipped["unknown_protocol.py"]
    assert "already loaded" in skipped["duplicate.py"]
    assert str(folder / "good.py") in report.loaded
    assert len([r for r in caplog.records if "skipped" in r.getMessage()]) == len(BROKEN)
    # Nothing of a broken plugin got in; the good one works and wins for its model.
    assert adapters.find("lost") is None and adapters.find("loud_leak") is None
    session = AdapterSession(adapters)
    session.decode(
        "zigbee2mqtt/bridge/devices",
        b'[{"friendly_name": "s1", "definition": {"model": "ACME-HS9"}}]',
        now_ms=DEFAULT_NOW_MS,
        seq=SequenceCounter(),
    )
    session.decode(
        "zigbee2mqtt/s1", b'{"battery": 80}', now_ms=DEFAULT_NOW_MS, seq=SequenceCounter()
    )
    assert [d.definition for d in session.devices()] == ["acme_hs9"]


def test_missing_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    _, report = load_adapters(folder=tmp_path / "nope", entry_points=False)
    assert [p.reason for p in report.problems] == ["not a folder"]


def _install_fake_distribution(site: Path, name: str, entry_points: str, module: str) -> None:
    """A real installed distribution as importlib.metadata finds it: a dist-info folder."""
    (site / f"{name}.py").write_text(module, encoding="utf-8")
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_points}\n")


def test_entry_points_load_and_broken_ones_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_distribution(site, "cy_good_plugin", "good = cy_good_plugin:ADAPTERS", GOOD)
    _install_fake_distribution(
        site, "cy_bad_plugin", "bad = cy_bad_plugin:make", "def make():\n    raise KeyError('x')\n"
    )
    _install_fake_distribution(
        site, "cy_missing_plugin", "gone = cy_no_such_module:ADAPTERS", "x = 1\n"
    )
    monkeypatch.syspath_prepend(str(site))
    for mod in ("cy_good_plugin", "cy_bad_plugin"):
        sys.modules.pop(mod, None)
    adapters, report = load_adapters()
    assert any("good" in s for s in report.loaded)
    problems = {p.source.split()[2]: p.reason for p in report.problems}
    assert set(problems) == {"bad", "gone"}
    assert "KeyError" in problems["bad"] and "ModuleNotFoundError" in problems["gone"]
    assert adapters.find("acme_hs9") is not None


def test_plugin_code_that_crashes_at_decode_time_becomes_an_adapter_error(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "crashy.py": textwrap.dedent(
                """
                from devices.adapters import AdapterDefinition, Matcher, Protocol, Route, Report
                from devices.adapters.pieces import Piece
                from devices.catalog import DeviceKind

                def read(captures, payload):
                    return Report(captures["device"], {"x": 1})

                class Crash(Piece):
                    reads = ("x",)
                    exposes = ()
                    def convert(self, props, memory, out, ctx):
                        return 1 / 0

                ADAPTERS = [
                    Protocol("crashy", "test", (Route("crashy/{device}", read),), ("crashy/+",)),
                    AdapterDefinition("crashy_def", "x", "crashy", DeviceKind.WATER_LEAK,
                                      Matcher(properties=("x",)), (Crash(),)),
                ]
                """
            )
        },
    )
    adapters, report = load_adapters(folder=tmp_path, entry_points=False)
    assert report.ok
    from devices.adapters import AdapterError

    with pytest.raises(AdapterError, match=r"crashy_def: internal error \(ZeroDivisionError\)"):
        AdapterSession(adapters).decode(
            "crashy/a", b"{}", now_ms=DEFAULT_NOW_MS, seq=SequenceCounter()
        )


def test_later_definitions_take_precedence() -> None:
    adapters = builtin_adapters()
    names = [d.name for d in adapters.definitions_for("zigbee2mqtt")]
    assert names.index("heiman_hs1eb") < names.index("z2m_sos")
