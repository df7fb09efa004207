"""Acceptance (issue 18, 2): a media worker on a starved core keeps what it admitted and sends
the rest to another worker.

A real hub and two ``liveclass media`` processes on the real Redis (bench.media.overload): a
busy loop spins on the origin's core and the origin runs at nice 12 beside it (about 6 % of
the core while the loop wants it all, 3 % when a test on the other xdist worker shares the
core too), the relay on the other core. 20 aiortc subscribers join one by one; every tagged
frame of a 6-second window is counted at each subscriber. The starvation is calibrated for
both machines: at nice 5 a quiet machine's origin carried all 12 subscribers of the first
version with a quarter of the core; at nice 15 a CI run whose other worker shared the core
left the origin 2 %, too little to read the publisher's own stream, so both workers lost the
same quarter of the frames. At nice 12 with 20 subscribers: quiet, the origin took 12 and the
relay 8; with a busy loop on each core besides, 3 and 17; 0 % lost in both.

Fails if the origin admitted nobody or everyone (it did, when an overloaded origin counted its
connection to the relay as room for one more participant), if anyone was not served, or if
the subscribers of either worker lost frames. CPU contention on a shared machine is not
ours to control: the loss bound is generous (a starved load generator drops frames whoever
forwards them) and the figures are printed (``-s``).
"""

from __future__ import annotations

import json

from bench.media.deploy import DeployOptions
from bench.media.overload import OverloadOptions, run_overload, summary, verdict
from tests.services import check_redis, redis_url

#: Frames lost end to end, per worker and kind, that still pass on a machine shared with
#: other test runs (the acceptance figure is 0 %, from the bench on a quiet machine).
LOST_PCT_BOUND = 2.0


async def test_an_origin_on_a_starved_core_sends_the_rest_to_a_relay() -> None:
    check_redis()
    options = OverloadOptions(
        subscribers=20,
        origin_nice=12,
        join_gap=0.7,
        duration=6.0,
        warmup=2.0,
        width=320,
        height=240,
        video_kbps=400,
        ready_timeout=30.0,
        settle=1.0,
        deploy=DeployOptions(redis_url=redis_url()),
    )
    result = await run_overload(options)
    print(summary(result))
    print(json.dumps(result["workers"], indent=1))

    origin, relay = sorted(result["workers"], key=lambda w: w["role"] != "origin")
    assert origin["role"] == "origin"
    assert origin["subscribers"] >= 1, "the origin admitted nobody"
    assert relay["subscribers"] >= 1, "the origin kept admitting"
    assert origin["subscribers"] + relay["subscribers"] == options.subscribers
    assert verdict(result, lost_pct=LOST_PCT_BOUND) == []
