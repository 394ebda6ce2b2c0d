"""The community server: what the property manager runs.

It enrolls hubs, verifies and stores what they send exactly once, turns alarm events into
alarms that people acknowledge, work and resolve, shows them live on a dashboard, escalates
them up a chain of people until someone acts, notifies through apprise and signed webhooks,
and publishes them as a CAP 1.2 feed for city platforms.
"""

from community.config import CommunityConfig
from community.server import CommunityServer

__all__ = ["CommunityConfig", "CommunityServer"]
