"""The cross-node suite runs against the whole topology (scripts/topology.sh): one per xdist
worker and session, torn down at the end. Its tests carry ``xdist_group("topology")`` so that
``--dist loadgroup`` (scripts/test.sh) runs them all on one worker, against one topology."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.topology import Topology, bring_up


@pytest.fixture(scope="session")
def topology() -> Iterator[Topology]:
    up = bring_up()
    try:
        yield up
    finally:
        up.down()


@pytest.fixture
def cluster(topology: Topology) -> Topology:
    """The topology with every node running (a previous test may have killed or drained one)."""
    topology.ensure_nodes()
    return topology
