"""The community server: what the property manager runs.

It enrolls hubs, verifies and stores what they send exactly once, turns alarm events into
alarms that people acknowledge and clear, and shows them live on a dashboard.
"""

from community.config import CommunityConfig
from community.server import CommunityServer

__all__ = ["CommunityConfig", "CommunityServer"]
