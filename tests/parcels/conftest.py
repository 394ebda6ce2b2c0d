"""The estate of tests/notices_publish: homes in two buildings and a parcel-locker stub behind
the common-area gateway, over a real Mosquitto."""

from __future__ import annotations

from tests.notices_publish.conftest import estate

__all__ = ["estate"]
