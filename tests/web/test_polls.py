"""A poll and a quiz in real Chromium (issue 17): the teacher asks, two students vote (one
on a phone, who changes her mind), the teacher watches the tally, closes and shares; the
students see the results and whether they were right. Screenshots at desktop and phone
sizes are kept in tests/web/artifacts/polls."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import join, start


async def test_a_quiz_in_class(tmp_path: Path) -> None:
    shots = Shots("polls")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "Astronomy")
        await join(sam, "Sam Student", session_id)
        await join(sue, "Sue Student", session_id)
        # No poll yet: students see no poll panel; the teacher has the form.
        await expect(sam.locator("#polls-panel")).to_be_hidden()

        await teacher.get_by_text("New poll or quiz").click()
        await teacher.get_by_label("Question", exact=True).fill("Which planet is the largest?")
        await teacher.get_by_label("Option 1", exact=True).fill("Mars")
        await teacher.get_by_label("Option 2", exact=True).fill("Jupiter")
        await teacher.get_by_role("button", name="Add option").click()
        await expect(teacher.get_by_label("Option 3", exact=True)).to_be_focused()
        await teacher.keyboard.type("Venus")
        await teacher.get_by_label("Correct answer").select_option(label="Jupiter")
        await shots.take(teacher, "teacher-writes-a-quiz")
        await teacher.get_by_role("button", name="Launch poll").click()
        await expect(teacher.locator("#poll-note")).to_have_text("Poll launched.")

        for page in (sam, sue):
            await expect(page.locator("#poll-question-shown")).to_have_text(
                "Which planet is the largest?"
            )
        await sam.get_by_label("Jupiter").check()
        await sam.get_by_role("button", name="Vote").click()
        await expect(sam.locator("#poll-note")).to_contain_text("Your vote is in")
        await sue.get_by_label("Mars").check()
        await sue.get_by_role("button", name="Vote").click()
        await expect(sue.get_by_role("button", name="Change vote")).to_be_visible()
        await expect(teacher.locator("#poll-current")).to_contain_text("2 voted")
        await expect(teacher.locator(".poll-bars li", has_text="Mars")).to_contain_text("1 · 50%")
        await shots.take(sue, "sue-voted-375px")

        # Sue changes her mind while the poll is open.
        await sue.get_by_label("Jupiter").check()
        await sue.get_by_role("button", name="Change vote").click()
        await expect(teacher.locator(".poll-bars li", has_text="Jupiter")).to_contain_text(
            "2 · 100%"
        )
        await expect(teacher.locator("#poll-current")).to_contain_text("2 voted")
        await teacher.get_by_text("Who voted what", exact=True).click()
        await expect(teacher.locator(".poll-ballots")).to_contain_text("Sue Student: Jupiter")
        await shots.take(teacher, "teacher-live-tally")

        await teacher.get_by_role("button", name="Close poll").click()
        for page in (sam, sue):
            await expect(page.locator("#poll-current")).to_contain_text("The poll is closed")
            await expect(page.get_by_role("button", name="Change vote")).to_have_count(0)
        await teacher.get_by_role("button", name="Share results").click()
        for page in (sam, sue):
            await expect(page.locator(".poll-bars li.right")).to_contain_text("Jupiter")
            await expect(page.locator("#poll-verdict")).to_have_text("You got it right.")
        await expect(teacher.locator("#poll-note")).to_have_text("Results shared with the class.")
        await shots.take(sue, "sue-sees-the-results-375px")
        await shots.take(sam, "sam-sees-the-results")
        await sue.set_viewport_size({"width": 320, "height": 700})
        width = await sue.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 320, f"the page scrolls sideways at 320 px ({width} px wide)"
        await shots.take(sue, "sue-results-320px")

        # A student who reloads still sees the shared results (read back over REST).
        await sam.reload()
        await expect(sam.locator(".poll-bars li.right")).to_contain_text("Jupiter")
        await expect(sam.locator("#poll-verdict")).to_have_text("You got it right.")
