"""The waiting room in real Chromium (issue 17): the teacher turns it on, students who come
see that they wait (with the class's name), the teacher sees them live and lets one in and
refuses another, who is told. Screenshots (1280, 375 and 320 px) in
tests/web/artifacts/waiting_room."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server, sign_in
from tests.web.lesson import start, state


async def test_waiting_room_admit_and_refuse(tmp_path: Path) -> None:
    shots = Shots("waiting_room")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node, width=375, height=800)
        _, sue = await open_page(browser, node, width=320, height=700)
        session_id = await start(teacher, "Geometry with a door")
        panel = teacher.locator("#waiting-panel")
        await expect(panel).to_contain_text("Off: students come straight in.")
        await teacher.get_by_role("button", name="Turn waiting room on").click()
        await expect(teacher.get_by_role("button", name="Turn waiting room off")).to_be_visible()

        for page, name in ((sam, "Sam Student"), (sue, "Sue Student")):
            await sign_in(page, name, next_path=f"/classroom.html?session={session_id}")
            await state(page, "waiting")
            await expect(page.locator("#state-text")).to_contain_text("Geometry with a door")
        waiting = teacher.get_by_role("list", name="Waiting to be let in")
        await expect(waiting.get_by_role("listitem")).to_have_count(2)
        await expect(panel).to_contain_text("2 waiting to be let in.")
        # Waiting is not being in the class: the teacher's roster has only herself.
        await expect(teacher.locator("#roster li")).to_have_count(1)
        await shots.take(teacher, "teacher-two-waiting-1280px")
        await shots.take(sam, "student-waiting-375px")
        await shots.take(sue, "student-waiting-320px")

        await teacher.get_by_role("button", name="Admit Sam Student").click()
        await state(sam, "live")
        await expect(teacher.locator("#roster li")).to_have_count(2)
        await expect(waiting.get_by_role("listitem")).to_have_count(1)
        await teacher.get_by_role("button", name="Refuse Sue Student").click()
        await state(sue, "refused")
        await expect(sue.get_by_role("button", name="Ask again")).to_be_visible()
        await expect(waiting.get_by_role("listitem")).to_have_count(0)
        await shots.take(sue, "student-refused-320px")
        await shots.take(sam, "student-let-in-375px")
        await shots.take(teacher, "teacher-after-1280px")

        # Asking again puts Sue back in the waiting room; turning it off lets her in.
        await sue.get_by_role("button", name="Ask again").click()
        await state(sue, "waiting")
        await expect(waiting.get_by_role("listitem")).to_have_count(1)
        await teacher.get_by_role("button", name="Turn waiting room off").click()
        await state(sue, "live")
        await expect(teacher.locator("#roster li")).to_have_count(3)
