"""Private questions in real Chromium (issue 17): a student asks the teacher; only the
teacher sees it, in her "Questions" panel, not the other student; she answers in writing and
dismisses another; the asker sees the answer, and after a reload too. Screenshots (1280, 375
and 320 px) in tests/web/artifacts/questions."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import join, start, state


async def test_private_questions(tmp_path: Path) -> None:
    shots = Shots("questions")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node, width=375, height=800)
        _, sue = await open_page(browser, node, width=320, height=700)
        session_id = await start(teacher, "Physics")
        await join(sam, "Sam Student", session_id)
        await join(sue, "Sue Student", session_id)
        await expect(teacher.locator("#questions-empty")).to_contain_text("only you see them")

        box = sam.get_by_label("Your question to the teacher")
        await box.fill("Why is the sky blue?")
        await sam.get_by_role("button", name="Ask", exact=True).click()
        await expect(box).to_have_value("")
        mine = sam.get_by_role("list", name="Private questions")
        await expect(mine).to_contain_text("Why is the sky blue?")
        await expect(mine).to_contain_text("open")
        await sue.get_by_label("Your question to the teacher").fill("May I leave at 3?")
        await sue.get_by_label("Your question to the teacher").press("Enter")

        panel = teacher.get_by_role("list", name="Private questions")
        await expect(panel.get_by_role("listitem")).to_have_count(2)
        await expect(teacher.locator("#questions-count")).to_have_text("(2 open)")
        # Students see only their own.
        await expect(sue.get_by_role("list", name="Private questions")).not_to_contain_text("sky")
        await shots.take(teacher, "teacher-two-questions-1280px")
        await shots.take(sam, "student-asked-375px")

        await teacher.get_by_label("Answer to Sam Student").fill("Rayleigh scattering.")
        await teacher.get_by_role("button", name="Answer Sam Student's question").click()
        await expect(mine).to_contain_text("Tina Teacher: Rayleigh scattering.")
        await expect(mine).to_contain_text("answered")
        await teacher.get_by_role("button", name="Dismiss Sue Student's question").click()
        await expect(sue.get_by_role("list", name="Private questions")).to_contain_text("dismissed")
        await expect(teacher.locator("#questions-count")).to_have_text("")
        await shots.take(teacher, "teacher-after-1280px")
        await shots.take(sue, "student-dismissed-320px")

        # Kept with the session: a reload shows Sam his question and its answer again.
        await sam.reload()
        await state(sam, "live")
        await expect(mine).to_contain_text("Rayleigh scattering.")
        await shots.take(sam, "student-after-reload-375px")
