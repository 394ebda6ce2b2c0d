"""The fake hub and device factory of the reference-device tests, reused for field devices."""

from tests.firmware_stubs.conftest import hub, make_device

__all__ = ["hub", "make_device"]
