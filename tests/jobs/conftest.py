from tests.api.world import world
from tests.jobs.helpers import runs

__all__ = ["runs", "world"]
