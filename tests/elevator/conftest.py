"""The downlink tests' real stack (community, hub, Mosquitto) is reused, with a car camera."""

from tests.downlink.conftest import stack

__all__ = ["stack"]
