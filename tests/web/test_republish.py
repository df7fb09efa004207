"""Publishing that stops and starts, in real Chromium (issue 13): the teacher and a student she
allowed each turn their camera off and on five times and their microphone off and on; after
each, the two other people see that video playing again within seconds.

A camera turned off closes the publishing connection and sends ``unpublish``: the tile goes
for everyone. Turned on again, the page offers on a new connection, which the SFU takes as a
new publication (it used to refuse it: "an offer is already being answered").
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.async_api import Page, expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import (
    choose,
    join_and_watch_the_teacher,
    start,
    teacher_tile,
    video_playing,
)

TOGGLES = 5
#: How long a viewer may wait for the video again. The acceptance target is 3 s; the bound is
#: wider so that a loaded CI machine does not fail a working build (the figures are printed).
BACK_WITHIN_S = 12.0


async def _camera_off_and_on(
    publisher: Page, pid: str, viewers: list[Page], who: str
) -> list[float]:
    """Toggle ``publisher``'s camera ``TOGGLES`` times; return, per toggle, the seconds until
    every viewer's video of them played again."""
    tile = f'#stage video[data-participant="{pid}"]'
    delays: list[float] = []
    for _ in range(TOGGLES):
        await publisher.get_by_role("button", name="Turn camera off").click()
        for viewer in viewers:  # gone for everyone, not frozen on the last frame
            await expect(viewer.locator(tile)).to_have_count(0)
        started = time.monotonic()
        await publisher.get_by_role("button", name="Turn camera on").click()
        for viewer in viewers:
            await video_playing(viewer, tile, timeout_ms=int(BACK_WITHIN_S * 1000))
        delays.append(time.monotonic() - started)
    print(
        f"{who}: video back for both viewers after " + ", ".join(f"{d:.2f}" for d in delays) + " s"
    )
    # the microphone off and on: a muted track, no renegotiation; the video never stops
    for muted in (True, False):
        await publisher.get_by_role(
            "button", name="Mute microphone" if muted else "Unmute microphone"
        ).click()
        for viewer in viewers:
            await video_playing(viewer, tile, timeout_ms=int(BACK_WITHIN_S * 1000))
    assert await publisher.evaluate("() => window.liveclassRoom.camera.getAudioTracks()[0].enabled")
    return delays


async def test_teacher_and_student_turn_their_cameras_off_and_on(tmp_path: Path) -> None:
    shots = Shots("republish")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)

        session_id = await start(teacher, "Camera drill")
        students = {"Sam Student": sam, "Sue Student": sue}
        await join_and_watch_the_teacher(teacher, students, session_id)
        teacher_id = await teacher.evaluate("() => window.liveclassRoom.me.id")
        sue_id = await sue.evaluate("() => window.liveclassRoom.me.id")

        await choose(teacher, "Sue Student")
        await teacher.get_by_role("button", name="Allow camera for Sue Student").click()
        await sue.get_by_role("button", name="Turn camera on").click()
        for page in (teacher, sam):
            await video_playing(page, f'#stage video[data-participant="{sue_id}"]')

        teacher_delays = await _camera_off_and_on(teacher, teacher_id, [sam, sue], "teacher")
        await shots.take(sam, "sam-after-teacher-toggles")
        sue_delays = await _camera_off_and_on(sue, sue_id, [teacher, sam], "student")
        await shots.take(teacher, "teacher-after-student-toggles")
        await shots.take(sue, "sue-after-her-toggles-375px")
        for page in (teacher, sue):
            await expect(page.locator("#media-error")).to_be_hidden()
        assert len(teacher_delays) == len(sue_delays) == TOGGLES


async def test_a_teacher_who_reloads_or_loses_the_network_is_seen_again(tmp_path: Path) -> None:
    """What a teacher does in a real lesson besides the buttons: she reloads the page (her
    camera comes back on by itself, as it went on when she started the class), and her Wi-Fi
    drops for a few seconds. Each time both students see her video playing again."""
    shots = Shots("republish_reload")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "Reload drill")
        students = {"Sam Student": sam, "Sue Student": sue}
        tile = await join_and_watch_the_teacher(teacher, students, session_id)

        started = time.monotonic()
        await teacher.reload()
        await expect(teacher.locator("main")).to_have_attribute("data-state", "live")
        teacher_id = await teacher.evaluate("() => window.liveclassRoom.me.id")
        tile = await teacher_tile(teacher)
        for page in (sam, sue):
            await video_playing(page, tile, timeout_ms=int(BACK_WITHIN_S * 1000))
            # one tile of her, not a frozen one from before the reload beside it
            await expect(page.locator("#stage video")).to_have_count(1)
        after_reload = time.monotonic() - started
        await shots.take(sue, "sue-after-teacher-reload-375px")

        # Her network drops (Playwright's offline mode does not touch an open WebSocket, so the
        # socket is closed as a dead network closes it) and comes back: she resumes as herself.
        await teacher.context.set_offline(True)
        await teacher.evaluate("() => window.liveclassRoom.client.ws.close(4999)")
        await expect(teacher.locator("#banner")).to_have_text("Reconnecting…")
        await teacher.context.set_offline(False)
        started = time.monotonic()
        await expect(teacher.locator("#banner")).to_be_hidden()
        assert await teacher.evaluate("() => window.liveclassRoom.me.id") == teacher_id
        for page in (sam, sue):
            await video_playing(page, tile, timeout_ms=int(BACK_WITHIN_S * 1000))
        after_drop = time.monotonic() - started
        await shots.take(sam, "sam-after-teacher-network-drop")
        await shots.take(teacher, "teacher-after-network-drop")
        await expect(teacher.locator("#media-error")).to_be_hidden()
        print(
            f"teacher's video back for both students {after_reload:.2f} s after her reload, "
            f"{after_drop:.2f} s after her network came back"
        )
