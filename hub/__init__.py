"""The home hub: bridges a home's life-safety devices to its community, and keeps them safe
on its own when the uplink is down.

``Hub(HubConfig(...))`` is the whole public surface; ``python -m hub run --config FILE.json``
runs one from a file.
"""

from hub.config import HubConfig
from hub.registry import DeviceRecord
from hub.runtime import Hub

__all__ = ["DeviceRecord", "Hub", "HubConfig"]
