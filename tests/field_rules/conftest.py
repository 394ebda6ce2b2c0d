"""The downlink tests' real stack (community, hub, Mosquitto, a charging-port stub) is reused."""

from tests.downlink.conftest import stack

__all__ = ["stack"]
