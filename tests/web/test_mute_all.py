"""Mute all, with and without the lock, in real Chromium (issue 17): the student is told,
the microphone button says what happened, and a locked microphone cannot be unmuted until
the teacher unlocks it. Screenshots in tests/web/artifacts/mute_all."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import choose, join, start, video_playing


async def test_mute_all_and_lock(tmp_path: Path) -> None:
    shots = Shots("mute_all")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "Music")
        await join(sam, "Sam Student", session_id)
        sam_id = await sam.evaluate("() => window.liveclassRoom.me.id")
        await choose(teacher, "Sam Student")
        await teacher.get_by_role("button", name="Allow camera for Sam Student").click()
        await sam.get_by_role("button", name="Turn camera on").click()
        await video_playing(teacher, f'#stage video[data-participant="{sam_id}"]')
        await expect(sam.get_by_role("button", name="Mute microphone")).to_be_visible()

        await teacher.get_by_role("button", name="Mute all", exact=True).click()
        await expect(sam.locator("#notice")).to_contain_text(
            "Tina Teacher muted everyone's microphone"
        )
        await expect(sam.get_by_role("button", name="Unmute microphone")).to_be_enabled()
        await sam.get_by_role("button", name="Unmute microphone").click()
        await expect(sam.get_by_role("button", name="Mute microphone")).to_be_visible()

        await teacher.get_by_role("button", name="Mute all and lock").click()
        await expect(sam.locator("#notice")).to_contain_text("locked it")
        locked = sam.get_by_role("button", name="Microphone locked by the teacher")
        await expect(locked).to_be_disabled()
        await expect(teacher.get_by_role("button", name="Unlock microphones")).to_be_visible()
        await shots.take(sam, "locked-375px")
        await shots.take(teacher, "teacher-locked")
        # A reload keeps the lock (the state is read back).
        await sam.reload()
        await expect(sam.locator("main")).to_have_attribute("data-state", "live")
        await sam.get_by_role("button", name="Turn camera on").click()
        await expect(
            sam.get_by_role("button", name="Microphone locked by the teacher")
        ).to_be_disabled()

        await teacher.get_by_role("button", name="Unlock microphones").click()
        await expect(sam.locator("#notice")).to_contain_text("you may unmute")
        await sam.get_by_role("button", name="Unmute microphone").click()
        await expect(sam.get_by_role("button", name="Mute microphone")).to_be_visible()
