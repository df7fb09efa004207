"""Probing a subscriber's link before it goes up a layer: the padding, paced.

:class:`media.layers.LayerSelector` decides when to probe and how much padding its probe
wants (:meth:`~media.layers.LayerSelector.probe_padding`, ramping); :func:`pace_padding`
sends that much as padding-only RTX packets (:meth:`media.aiortc_outlet.RtpOutlet.send_padding`)
every few milliseconds until the probe ends, and logs how it ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from media.aiortc_hooks import fast_ntp_time
from media.aiortc_outlet import RtpOutlet
from media.forwarding import ForwardedTrack
from media.layers import LayerSelector

__all__ = ["pace_padding", "padding_outlet"]

log = logging.getLogger("liveclass.media.probing")

#: Padding packets: bytes each (RTP allows 255), how often the pacer sends, and the most it
#: catches up after a stalled loop (seconds of padding).
PADDING_SIZE = 255
PADDING_TICK = 0.01
PADDING_CATCH_UP = 0.05


def padding_outlet(tracks: Iterable[ForwardedTrack]) -> RtpOutlet | None:
    """The outlet of the first of a connection's video ``tracks`` that forwards a layered
    camera and can send padding (RTX negotiated); None if none can."""
    for track in tracks:
        outlet, source = track.outlet, track.source
        if (
            isinstance(outlet, RtpOutlet)
            and outlet.can_pad
            and source is not None
            and len(source.layers) > 1
        ):
            return outlet
    return None


async def pace_padding(selector: LayerSelector, outlet: RtpOutlet, name: str) -> None:
    """Send the padding ``selector``'s probe asks for through ``outlet`` until the probe
    ends (returns then; cancel it to stop sooner). ``name`` names the subscriber in the log."""
    loop = asyncio.get_running_loop()
    credit = 0.0  # bytes owed
    last = loop.time()
    while True:
        await asyncio.sleep(PADDING_TICK)
        rate = selector.probe_padding() / 8
        if rate <= 0:
            break
        now = loop.time()
        # after a stalled loop, catch up by a few ticks, not in one burst
        credit = min(credit + rate * (now - last), rate * PADDING_CATCH_UP)
        last = now
        ntp = fast_ntp_time()
        while credit >= PADDING_SIZE:
            credit -= PADDING_SIZE
            if not outlet.send_padding(PADDING_SIZE, ntp):
                break
    if not selector.probing and selector.probe_history:  # else it ends at the next report
        seconds, failure = selector.probe_history[-1]
        log.info(
            "probe for %s %s after %.2f s (%d bytes of padding so far)",
            name,
            f"failed ({failure})" if failure else "passed",
            seconds,
            outlet.padding_sent,
        )
