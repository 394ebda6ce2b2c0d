"""The property services' part of the demo: repairs, notices, visitors, parcels and care.

Each service plays a *scene*: it may set something up once the community is running, it puts
its steps on the shared timeline (at a fraction of the run, like the device timeline), and it
reports what the community recorded. Scenes are data the runner walks; adding a service to
the demo is one line in :data:`SCENES`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from courtyard.demo.scene_care import CareScene
from courtyard.demo.scene_notices import NoticesScene
from courtyard.demo.scene_orders import OrdersScene
from courtyard.demo.scene_parcels import ParcelsScene
from courtyard.demo.scene_visitors import VisitorsScene

if TYPE_CHECKING:
    from courtyard.demo.runner import Community


@dataclass(frozen=True, slots=True)
class PropertyStep:
    """One thing a resident, a member of staff or a field device does in a property scene."""

    #: When, as a fraction of the run (0.0 start, 1.0 end).
    at: float
    #: What the demo prints when it happens.
    says: str
    #: Does it; gets the running community and the run's duration in seconds.
    run: Callable[[Community, float], Awaitable[None]]


class Scene(Protocol):
    """One property service's part in the demo (one fresh instance per run)."""

    #: The key of this scene's entry in the report's ``property`` section.
    name: str

    async def setup(self, community: Community, duration: float) -> None:
        """Prepare (accounts, devices, opt-ins) once the community and hubs are running."""

    def steps(self) -> Sequence[PropertyStep]:
        """This scene's steps on the shared timeline."""

    async def report(self, community: Community) -> dict[str, Any]:
        """What the community recorded, read back from the community (not from the script)."""


#: Every scene the demo plays, as factories (a scene keeps per-run state).
SCENES: Final[tuple[Callable[[], Scene], ...]] = (
    OrdersScene,  # repairs: from an alarm, from a resident, and one left to go overdue
    CareScene,  # care checks: asked, then family, then duty staff
    VisitorsScene,  # visitor passes: issued, let in, refused once expired
    NoticesScene,  # the manager's urgent notice to one building, and its read receipts
    ParcelsScene,  # parcels: delivered, reminded, collected with the code from the hub
)
