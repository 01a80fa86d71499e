from tests.api.world import world

__all__ = ["world"]
