"""The real community and hubs of the notice tests serve the API tests too."""

from tests.notices.conftest import site

__all__ = ["site"]
