"""The community fixtures (a real server on a real Mosquitto) for the replay tests."""

from tests.community.conftest import community, community_factory

__all__ = ["community", "community_factory"]
