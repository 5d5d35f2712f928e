"""One local Ray for the Ray tests of the session: two CPUs, no dashboard."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local Ray instance, started once (or the one a docs sample already started) and shut
    down at the end of the session."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from a test run
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()
