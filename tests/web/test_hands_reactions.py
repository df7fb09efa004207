"""Hands the teacher lowers and reactions, in real Chromium (issue 17). Screenshots in
tests/web/artifacts/hands_reactions."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import choose, join, start


async def test_hands_lowered_by_the_teacher_and_reactions(tmp_path: Path) -> None:
    shots = Shots("hands_reactions")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "Geography")
        await join(sam, "Sam Student", session_id)
        await join(sue, "Sue Student", session_id)

        for page in (sam, sue):
            await page.get_by_role("button", name="Raise hand").click()
        await expect(teacher.locator("#hands-count")).to_have_text("✋ 2 hands up")
        await shots.take(teacher, "two-hands-up")
        await choose(teacher, "Sam Student")
        await teacher.get_by_role("button", name="Lower hand for Sam Student").click()
        await expect(sam.locator("#notice")).to_have_text("Tina Teacher lowered your hand.")
        await expect(sam.get_by_role("button", name="Raise hand")).to_be_visible()
        await expect(teacher.locator("#hands-count")).to_have_text("✋ 1 hand up")
        await expect(sue.locator("#hands-count")).to_have_text("✋ 1 hand up")

        await sam.get_by_role("button", name="Raise hand").click()
        await expect(teacher.locator("#hands-count")).to_have_text("✋ 2 hands up")
        await teacher.get_by_role("button", name="Lower all hands").click()
        await expect(sue.locator("#notice")).to_have_text("Tina Teacher lowered all hands.")
        await expect(sue.get_by_role("button", name="Raise hand")).to_be_visible()
        for page in (teacher, sam, sue):
            await expect(page.locator("#hands-count")).to_be_hidden()
        await expect(teacher.get_by_role("button", name="Lower all hands")).to_be_hidden()

        # Reactions: shown to everyone for a few seconds, then gone.
        await expect(teacher.get_by_role("button", name="React: Applause")).to_be_visible()
        await sam.get_by_role("button", name="React: Applause").click()
        await sue.get_by_role("button", name="React: Applause").click()
        for page in (teacher, sue):
            await expect(page.locator("#reaction-feed")).to_contain_text("👏")
            await expect(page.locator("#reaction-feed")).to_contain_text("Sam Student")
        await shots.take(teacher, "reactions-teacher")
        await shots.take(sue, "reactions-375px")
        await expect(teacher.locator("#reaction-feed li")).to_have_count(0, timeout=10_000)
        # Too many: a fourth reaction in a row is refused and the page says why.
        for _ in range(4):
            await sue.get_by_role("button", name="React: Heart").click()
        await expect(sue.locator("#reaction-feed")).to_contain_text("One reaction a second")
