"""The whole class in real Chromium (issue 7): a teacher and two students, each in their own
browser context, on a real ``liveclass serve`` with its in-process SFU.

The teacher signs in, schedules a class, starts it and publishes the fake camera; two students
join (one over MessagePack, one over JSON) and see the teacher's video playing, see each other
in the roster and exchange chat (history survives a reload); the teacher sees the count reach
3 and removes one student, who sees that he was removed and cannot rejoin; the teacher ends
the class and the remaining student sees it ended. Each step leaves screenshots (see
tests/web/browser.py, ``artifacts_dir``).
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server, sign_in
from tests.web.lesson import choose, state, video_playing


async def test_a_whole_class_in_the_browser(tmp_path: Path) -> None:
    shots = Shots("whole_class")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)

        # The teacher schedules a class and starts it; her camera is on.
        await sign_in(teacher, "Tina Teacher")
        await teacher.get_by_label("Title").fill("Algebra I")
        await teacher.get_by_label("Seats").fill("150")
        await teacher.get_by_role("button", name="Schedule").click()
        await state(teacher, "not-started")
        session_id = teacher.url.split("session=")[1]
        await shots.take(teacher, "teacher-scheduled")
        await teacher.get_by_role("button", name="Start class").click()
        await state(teacher, "live")
        await expect(teacher.locator("#status")).to_have_text("live")
        await video_playing(teacher, "#stage video")
        await shots.take(teacher, "teacher-live-publishing")

        # Two students join: Sam from the list (MessagePack), Sue by link over JSON.
        await sign_in(sam, "Sam Student")
        await sam.locator(f'[data-session="{session_id}"]').get_by_role("link", name="Join").click()
        await sign_in(sue, "Sue Student", next_path=f"/classroom.html?session={session_id}")
        await sue.goto(f"/classroom.html?session={session_id}&codec=json")
        for page in (sam, sue):
            await state(page, "live")
            await video_playing(page, "#stage .tile.host video")
        await shots.take(sam, "sam-sees-teacher")
        await shots.take(sue, "sue-sees-teacher-375px")

        # The roster: each student sees the other; the teacher sees the count reach 3.
        await expect(sam.locator("#roster")).to_contain_text("Sue Student")
        await expect(sue.locator("#roster")).to_contain_text("Sam Student")
        await expect(sue.locator("#roster")).to_contain_text("Tina Teacher")
        await expect(teacher.locator("#count")).to_have_text("2 / 150")  # seats: not the teacher
        await shots.take(teacher, "teacher-count-3")

        # Chat both ways, a raised hand, and the history after a reload.
        await sam.get_by_label("Message").fill("Hello from Sam")
        await sam.get_by_label("Message").press("Enter")
        await expect(sue.locator("#chat")).to_contain_text("Hello from Sam")
        await sue.get_by_label("Message").fill("Hi Sam, Sue here")
        await sue.get_by_role("button", name="Send").click()
        await expect(sam.locator("#chat")).to_contain_text("Hi Sam, Sue here")
        await expect(teacher.locator("#chat")).to_contain_text("Hi Sam, Sue here")
        await sam.get_by_role("button", name="Raise hand").click()
        await expect(teacher.locator("#roster")).to_contain_text("hand up")
        await shots.take(sam, "sam-chat")
        await sue.reload()
        await state(sue, "live")
        await expect(sue.locator("#chat li")).to_have_count(2)
        await expect(sue.locator("#chat")).to_contain_text("Hello from Sam")
        await video_playing(sue, "#stage .tile.host video")
        await expect(teacher.locator("#count")).to_have_text("2 / 150")  # seats: not the teacher
        await shots.take(sue, "sue-history-after-reload-375px")

        # Sue's network drops: she sees "Reconnecting…", then resumes as the same participant.
        pid = await sue.evaluate("() => window.liveclassRoom.me.id")
        await sue.context.set_offline(True)
        await sue.evaluate("() => window.liveclassRoom.client.ws.close(4999)")
        await expect(sue.locator("#banner")).to_have_text("Reconnecting…")
        await shots.take(sue, "sue-reconnecting-375px")
        await sue.context.set_offline(False)
        await expect(sue.locator("#banner")).to_be_hidden()
        await state(sue, "live")
        assert await sue.evaluate("() => window.liveclassRoom.client.welcome.resumed") is True
        assert await sue.evaluate("() => window.liveclassRoom.me.id") == pid
        await expect(teacher.locator("#count")).to_have_text("2 / 150")  # seats: not the teacher
        await shots.take(teacher, "teacher-roster-chat-hand")

        # The teacher lets Sue use her camera: everyone sees her video next to the teacher's.
        await choose(teacher, "Sue Student")
        await teacher.get_by_role("button", name="Allow camera for Sue Student").click()
        await sue.get_by_role("button", name="Turn camera on").click()
        await video_playing(teacher, f'#stage video[data-participant="{pid}"]')
        await video_playing(sam, f'#stage video[data-participant="{pid}"]')
        await shots.take(sam, "sam-sees-teacher-and-sue")

        # The teacher removes Sam: he is told, and cannot come back.
        await choose(teacher, "Sam Student")
        await teacher.get_by_role("button", name="Remove Sam Student").click()
        await teacher.get_by_role("dialog").get_by_role("button", name="Remove").click()
        await state(sam, "removed")
        await expect(sam.locator("#state")).to_contain_text("removed by the host")
        await expect(teacher.locator("#count")).to_have_text("1 / 150")
        await shots.take(sam, "sam-removed")
        await sam.reload()
        await state(sam, "removed")
        await shots.take(sam, "sam-cannot-rejoin")

        # The teacher ends the class: Sue sees it ended.
        await teacher.get_by_role("button", name="End class").click()
        await teacher.get_by_role("dialog").get_by_role("button", name="End class").click()
        await state(sue, "ended")
        await expect(sue.locator("#state")).to_contain_text("The class has ended")
        await state(teacher, "ended")
        await shots.take(sue, "sue-class-ended-375px")
        await shots.take(teacher, "teacher-class-ended")
