from tests.pairing.support import make_hub, make_stub

__all__ = ["make_hub", "make_stub"]
