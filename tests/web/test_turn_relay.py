"""A school network that blocks UDP, in real Chromium (issue 13): every page may reach the
media only through TURN over TCP (``iceTransportPolicy: "relay"``, and coturn refuses UDP), with
the short-lived credentials liveclass hands out in the welcome; the student still receives the
teacher's video, over a relayed candidate pair."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import Page

from tests.coturn import coturn
from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import join, start, video_playing

# What a browser forced through TURN does: no host or server-reflexive candidates at all.
RELAY_ONLY = """
(() => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}) { super({ ...config, iceTransportPolicy: "relay" }); }
  };
})();
"""

SELECTED_PAIR = """async () => {
  const pc = window.liveclassRoom.media.sub;
  const stats = [...(await pc.getStats()).values()];
  const pair = stats.find(
    (s) => s.type === "candidate-pair" && s.nominated && s.state === "succeeded");
  const local = pair && stats.find((s) => s.id === pair.localCandidateId);
  return local ? { type: local.candidateType, protocol: local.relayProtocol } : null;
}"""


async def _relay_only(page: Page) -> None:
    await page.add_init_script(RELAY_ONLY)


async def test_a_student_behind_a_udp_blocking_firewall_gets_the_video_over_turn(
    tmp_path: Path,
) -> None:
    shots = Shots("turn_relay")
    async with coturn(tmp_path / "coturn") as turn:
        env = {
            "LIVECLASS_TURN_URLS": json.dumps([turn.tcp_url]),
            "LIVECLASS_TURN_SECRET": turn.secret,
            "LIVECLASS_MEDIA_HOST_ADDRESSES": json.dumps(["127.0.0.1"]),
        }
        async with server(tmp_path, env) as node, chromium() as browser:
            _, teacher = await open_page(browser, node)
            _, student = await open_page(browser, node, width=375, height=800)
            for page in (teacher, student):
                await _relay_only(page)
            session_id = await start(teacher, "Over TURN")
            await join(student, "Sam Student", session_id)

            ice = await student.evaluate("() => window.liveclassRoom.client.welcome.iceServers")
            assert ice[0]["urls"] == [turn.tcp_url]
            assert ice[0]["username"].endswith(":s1")  # <expiry>:<user id>
            await video_playing(student, "#stage .tile.host video")
            pair = await student.evaluate(SELECTED_PAIR)
            assert pair == {"type": "relay", "protocol": "tcp"}, pair
            await shots.take(student, "student-over-turn-375px")
        assert any("ALLOCATE processed, success" in line for line in turn.log), turn.log[-20:]
