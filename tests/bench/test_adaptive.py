"""Adaptive quality acceptance (issue 13, item 4): one publisher sending its camera as a low
and a high layer, two subscribers, one of them behind a link shaped to 300 kbit/s (``tc``
tbf on a veth into a network namespace the test makes; needs root, as CI has). The limited
subscriber goes down to the low layer and keeps receiving video with under 5 % of frames lost
over the whole shaped window after its switch: the SFU probes the link with padding before
it would try the high layer, and a failed probe costs no frames. The other keeps the high
layer; once the shaping is lifted a probe passes and the limited one goes back up. The
figures are printed (``pytest -s``) and are those of ``python -m bench.media.adaptive``;
the second test puts headless Chromium on the shaped link
(``python -m bench.media.adaptive_chromium``)."""

from __future__ import annotations

import json
from typing import Any

from bench.media.adaptive import AdaptiveOptions, run_adaptive
from bench.media.adaptive_chromium import run_adaptive_chromium

OPTIONS = AdaptiveOptions(constrained=16.0, recover=40.0)


def check(figures: dict[str, Any]) -> None:
    # the limited subscriber: down within seconds, and its video keeps playing
    assert figures["switch_down_seconds"] is not None
    assert figures["switch_down_seconds"] < 5
    assert figures["limited_low_frames"] > 0
    # the shaped window is long enough for a probe (6 s after the switch down); it fails,
    # the subscriber stays on the low layer, and over the whole window it loses < 5 %
    assert figures["limited_probes_failed"] >= 1
    assert not figures["limited_up_while_shaped"]
    assert figures["limited_low_share"] >= 0.95
    assert figures["limited_loss_after_switch"] < 0.05
    # the free subscriber keeps the high layer, without loss
    assert figures["free_high_share"] >= 0.9
    assert figures["free_loss"] < 0.05
    # the limit lifted: a probe passes and the limited subscriber goes back up
    assert figures["switch_up_seconds"] is not None


async def test_a_limited_subscriber_gets_the_low_layer_and_the_other_keeps_the_high() -> None:
    figures = await run_adaptive(OPTIONS)
    print("adaptive quality:", json.dumps(figures, indent=2))
    check(figures)


async def test_the_same_with_chromium_on_the_limited_link() -> None:
    figures = await run_adaptive_chromium(OPTIONS)
    print("adaptive quality, Chromium on the limited link:", json.dumps(figures, indent=2))
    check(figures)
