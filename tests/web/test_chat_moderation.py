"""Chat moderation in real Chromium (issue 17): a message the teacher deletes vanishes for
everyone at once; the teacher turns student chat off (students see it and cannot send) and
on again. Screenshots in tests/web/artifacts/chat_moderation."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import join, start


async def test_the_teacher_moderates_the_chat(tmp_path: Path) -> None:
    shots = Shots("chat_moderation")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "History")
        await join(sam, "Sam Student", session_id)
        await join(sue, "Sue Student", session_id)

        await sam.get_by_label("Message").fill("this class is boring")
        await sam.keyboard.press("Enter")
        await sam.get_by_label("Message").fill("when is the test?")
        await sam.keyboard.press("Enter")
        for page in (teacher, sue):
            await expect(page.locator("#chat li")).to_have_count(2)
        # Only the teacher gets delete buttons.
        await expect(
            sue.get_by_role("button", name="Delete Sam Student's chat post")
        ).to_have_count(0)
        await (
            teacher.locator("#chat li", has_text="boring")
            .get_by_role("button", name="Delete Sam Student's chat post")
            .click()
        )
        for page in (teacher, sam, sue):
            await expect(page.locator("#chat li", has_text="boring")).to_have_count(0)
            await expect(page.locator("#chat li", has_text="test?")).to_have_count(1)
        # ...and after a reload it is not in the history either.
        await sue.reload()
        await expect(sue.locator("#chat li", has_text="test?")).to_have_count(1)
        await expect(sue.locator("#chat li", has_text="boring")).to_have_count(0)

        await teacher.get_by_role("button", name="Turn student chat off").click()
        for page in (sam, sue):
            await expect(page.locator("#chat-off")).to_have_text(
                "The teacher turned chat off for now."
            )
            await expect(page.get_by_label("Message")).to_be_disabled()
        await expect(teacher.locator("#chat-off")).to_have_text("Student chat is off.")
        await teacher.get_by_role("textbox", name="Message").fill("Quiet, please: test time.")
        await teacher.keyboard.press("Enter")
        await expect(sue.locator("#chat li", has_text="test time")).to_have_count(1)
        await shots.take(sue, "chat-off-375px")
        await shots.take(teacher, "chat-off-teacher")
        await teacher.get_by_role("button", name="Turn student chat on").click()
        for page in (sam, sue):
            await expect(page.get_by_label("Message")).to_be_enabled()
            await expect(page.locator("#chat-off")).to_be_hidden()
        await sue.get_by_label("Message").fill("done!")
        await sue.keyboard.press("Enter")
        await expect(teacher.locator("#chat li", has_text="done!")).to_have_count(1)
