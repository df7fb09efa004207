"""Screen sharing in real Chromium (issue 13): the teacher shares her screen beside her
camera while the class is recorded; two students receive both, labelled, the screen large;
stopping the share (the page's button, or the browser's own "Stop sharing" bar) removes it for
everyone; the recording shows the screen while it was shared.

Chromium picks the screen by itself (``--auto-select-desktop-capture-source``) and, with the
fake devices, captures a generated picture.
"""

from __future__ import annotations

from pathlib import Path

import av
import httpx
from playwright.async_api import Page, expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import join_and_watch_the_teacher, start, video_playing

SCREEN = "#stage video[data-source='screen']"


async def _sizes(page: Page, selector: str) -> dict[str, int]:
    sizes: dict[str, int] = await page.eval_on_selector(
        selector,
        "v => ({w: v.videoWidth, h: v.videoHeight, tile: v.closest('figure').clientWidth})",
    )
    return sizes


async def test_the_teacher_shares_her_screen_beside_her_camera(tmp_path: Path) -> None:
    shots = Shots("screen_share")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "Slides")
        students = {"Sam Student": sam, "Sue Student": sue}
        tile = await join_and_watch_the_teacher(teacher, students, session_id)
        camera = f"{tile}[data-source='camera']"
        screen = f"{tile}[data-source='screen']"

        await teacher.get_by_role("button", name="Start recording").click()
        await expect(teacher.get_by_role("button", name="Stop recording")).to_be_visible()
        await teacher.get_by_role("button", name="Share screen").click()
        await expect(teacher.get_by_role("button", name="Stop sharing")).to_be_visible()
        for page in (sam, sue):
            await video_playing(page, screen)
            await video_playing(page, camera)
            await expect(page.locator("figure.screen figcaption")).to_have_text(
                "Tina Teacher: screen"
            )
            # the screen large, the camera small beside it
            big, small = await _sizes(page, screen), await _sizes(page, camera)
            assert big["tile"] > small["tile"], (big, small)
        await shots.take(sam, "sam-sees-screen-and-camera")
        await shots.take(sue, "sue-sees-screen-and-camera-375px")
        await shots.take(teacher, "teacher-sharing")

        # stopped with the page's button: gone for everyone, the camera plays on
        await teacher.get_by_role("button", name="Stop sharing").click()
        for page in (sam, sue):
            await expect(page.locator(SCREEN)).to_have_count(0)
            await video_playing(page, camera)
        # shared again, then stopped with the browser's own bar (the track ends by itself)
        await teacher.get_by_role("button", name="Share screen").click()
        for page in (sam, sue):
            await video_playing(page, screen)
        await teacher.evaluate(
            "() => window.liveclassRoom.screen.getVideoTracks()[0]"
            ".dispatchEvent(new Event('ended'))"
        )
        await expect(teacher.get_by_role("button", name="Share screen")).to_be_visible()
        for page in (sam, sue):
            await expect(page.locator(SCREEN)).to_have_count(0)
        await shots.take(sam, "sam-after-share-stopped")

        await teacher.get_by_role("button", name="Stop recording").click()
        link = teacher.locator("a.recording-download").first
        await expect(link).to_be_visible(timeout=120_000)
        href = await link.get_attribute("href")
        assert href
        async with httpx.AsyncClient(base_url=node.http, timeout=60) as http:
            download = await http.get(href)
        assert download.status_code == 200
        recording = tmp_path / "class.webm"
        recording.write_bytes(download.content)
        with av.open(str(recording)) as container:
            sizes = [(f.width, f.height) for f in container.decode(video=0)]
        print("recorded video frames by size:", {s: sizes.count(s) for s in set(sizes)})
        # camera, screen, camera, screen, camera: the screen's frames are in it
        assert len(set(sizes)) >= 2
        assert any(line for line in node.log if ":screen-video:" in line and "recording" in line)
