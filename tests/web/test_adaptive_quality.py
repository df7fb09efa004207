"""Adaptive quality in real Chromium (issue 13): the teacher's camera goes out in two layers
(a low copy scaled to about 180 lines, and the camera itself), and two students watch; one
of them is throttled with DevTools' network emulation (``Network.emulateNetworkConditions``,
300 kbit/s down). Both keep seeing her video playing; the frame heights and bitrates each
receives are printed, and the screenshots are in the artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import join_and_watch_the_teacher, start, video_playing

#: The publishing connection's video senders: each one's encoded frame height.
SENT_HEIGHTS = """async () => {
  const pc = window.liveclassRoom.media.pubs.get("camera").pc;
  const heights = [];
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video") heights.push(s.frameHeight || 0);
  });
  return heights.sort((a, b) => a - b);
}"""

#: The publishing connection's video senders as configured: each one's first encoding's
#: downscale factor and bitrate cap (what the page asked for, whatever the encoder makes of it
#: on a loaded machine).
SENT_LAYERS = """() => window.liveclassRoom.media.pubs.get("camera").pc.getSenders()
  .filter((s) => s.track && s.track.kind === "video")
  .map((s) => {
    const e = s.getParameters().encodings[0] || {};
    return { scale: e.scaleResolutionDownBy || 1, maxBitrate: e.maxBitrate || 0 };
  })
  .sort((a, b) => b.scale - a.scale)"""

#: The receiving connection's video: the height of the frames decoded.
RECEIVED_HEIGHT = """async () => {
  let height = 0;
  (await window.liveclassRoom.media.sub.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") height = s.frameHeight || height;
  });
  return height;
}"""


#: The receiving connection's video bytes so far.
RECEIVED_BYTES = """async () => {
  let bytes = 0;
  (await window.liveclassRoom.media.sub.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") bytes += s.bytesReceived || 0;
  });
  return bytes;
}"""


async def _received_kbps(pages: list[Page], seconds: int) -> list[float]:
    before = [await page.evaluate(RECEIVED_BYTES) for page in pages]
    await pages[0].wait_for_timeout(seconds * 1000)
    after = [await page.evaluate(RECEIVED_BYTES) for page in pages]
    return [round((b - a) * 8 / seconds / 1000, 1) for a, b in zip(before, after, strict=True)]


async def _received_heights(page: Page, seconds: int) -> list[int]:
    heights = []
    for _ in range(seconds):
        heights.append(await page.evaluate(RECEIVED_HEIGHT))
        await page.wait_for_timeout(1000)
    return heights


async def test_a_throttled_student_still_sees_the_teachers_video(tmp_path: Path) -> None:
    shots = Shots("adaptive-quality")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        slow_context, sue = await open_page(browser, node, width=375, height=800)

        session_id = await start(teacher, "Weak Wi-Fi")
        students = {"Sam Student": sam, "Sue Student": sue}
        tile = await join_and_watch_the_teacher(teacher, students, session_id)

        # two video layers leave the teacher's browser, the low one about 180 lines high
        await teacher.wait_for_function(
            f"async () => ({SENT_HEIGHTS})().then((h) => h.length === 2 && h[0] > 0)"
        )
        sent: list[int] = await teacher.evaluate(SENT_HEIGHTS)
        assert sent[0] <= 200, sent
        # The high layer's height is the encoder's choice: on a loaded machine Chromium scales
        # it down too (CPU adaptation), so what the page asked for is what is checked.
        layers: list[dict[str, float]] = await teacher.evaluate(SENT_LAYERS)
        assert len(layers) == 2, layers
        low, high = layers
        assert low["scale"] > 1, layers
        assert 0 < low["maxBitrate"] <= 150_000, layers
        assert high["scale"] == 1, layers

        cdp = await slow_context.new_cdp_session(sue)
        conditions: dict[str, Any] = {
            "offline": False,
            "latency": 50,
            "downloadThroughput": 300_000 / 8,
            "uploadThroughput": 1_000_000 / 8,
        }
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", conditions)
        sue_heights = await _received_heights(sue, 12)
        sam_kbps, sue_kbps = await _received_kbps([sam, sue], 4)
        sent_now = await teacher.evaluate(SENT_HEIGHTS)
        print(
            f"sent {sent} (now {sent_now}); throttled Sue received heights {sue_heights}, "
            f"{sue_kbps} kbit/s; Sam {sam_kbps} kbit/s"
        )
        for page in (sam, sue):
            await video_playing(page, tile)
        await shots.take(sue, "throttled-sue-375px")
        await shots.take(sam, "sam")
        # What Sue receives fits her link. (Not which layer it is: heights cannot tell here.
        # Chromium scales its layers down on a busy machine, both of them at once (CI saw
        # sent [180, 360], then [180, 180] while Sue's decoder still showed 270), and its fake
        # camera's picture is so simple that the high layer then sends little more than the
        # low one; the SFU's choice is measured in tests/bench/test_adaptive.py.)
        assert sue_kbps < 300
