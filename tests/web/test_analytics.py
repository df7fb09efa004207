"""The teacher's analytics page in real Chromium (issue 17): during the class and after it,
with the CSV matching what happened: messages, polls, hands raised, and the talk time of a
student whose fake microphone plays a tone (Sam's browser) against a silent one (Sue never
publishes). Screenshots in tests/web/artifacts/analytics."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import choose, join, start, state
from tests.web.test_speakers import _tone


async def test_the_teacher_reads_the_class_analytics(tmp_path: Path) -> None:
    shots = Shots("analytics")
    tone = _tone(tmp_path / "tone.wav")
    async with (
        server(tmp_path) as node,
        chromium() as browser,
        chromium(f"--use-file-for-fake-audio-capture={tone}") as speaking,
    ):
        teacher_context, teacher = await open_page(browser, node)
        _, sam = await open_page(speaking, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "Biology")
        await join(sam, "Sam Student", session_id)
        await join(sue, "Sue Student", session_id)
        for text in ("hello", "what is a cell?"):
            await sam.get_by_label("Message").fill(text)
            await sam.keyboard.press("Enter")
        await expect(teacher.locator("#chat li")).to_have_count(2)
        await teacher.get_by_text("New poll or quiz").click()
        await teacher.get_by_label("Question", exact=True).fill("Cells have a nucleus?")
        await teacher.get_by_label("Option 1", exact=True).fill("All of them")
        await teacher.get_by_label("Option 2", exact=True).fill("Most of them")
        await teacher.get_by_label("Correct answer").select_option(label="Most of them")
        await teacher.get_by_role("button", name="Launch poll").click()
        await sam.get_by_label("Most of them").check()
        await sam.get_by_role("button", name="Vote").click()
        await expect(teacher.locator("#poll-current")).to_contain_text("1 voted")
        # Sam raises his hand twice (lowering it in between counts nothing) ...
        count = teacher.locator("#hands-count")
        await sam.get_by_role("button", name="Raise hand").click()
        await expect(count).to_have_text("✋ 1 hand up")
        await sam.get_by_role("button", name="Lower hand").click()
        await expect(count).to_be_hidden()
        await sam.get_by_role("button", name="Raise hand").click()
        await expect(count).to_have_text("✋ 1 hand up")
        # ... and speaks: the teacher lets him publish; his microphone plays the tone.
        await choose(teacher, "Sam Student")
        await teacher.get_by_role("button", name="Allow camera for Sam Student").click()
        await sam.get_by_role("button", name="Turn camera on").click()
        sam_id = await sam.evaluate("() => window.liveclassRoom.me.id")
        sam_tile = f"#stage figure[data-participant='{sam_id}'][data-source='camera']"
        await expect(teacher.locator(f"{sam_tile}.speaking")).to_have_count(1)

        # During the class: the link in the teacher's panel.
        link = teacher.get_by_role("link", name="Class analytics")
        assert await link.get_attribute("href") == f"/analytics.html?session={session_id}"
        # (a new tab from the link: it shares the tab's sign-in, a typed URL would not)
        async with teacher_context.expect_page() as opened:
            await link.click()
        page = await opened.value
        await expect(page.locator("main")).to_have_attribute("data-state", "ready")
        sam_row = page.locator("#students tr", has_text="Sam Student")
        await expect(sam_row.locator("td").nth(3)).to_have_text("2")  # messages
        await expect(sam_row.locator("td").nth(4)).to_have_text("1 / 1")  # polls answered
        await expect(sam_row.locator("td").nth(5)).to_have_text("1 / 1")  # quiz right
        sue_row = page.locator("#students tr", has_text="Sue Student")
        await expect(sue_row.locator("td").nth(4)).to_have_text("0 / 1")
        hands = page.get_by_role("columnheader", name="Hands raised")
        await expect(hands).to_be_visible()
        await expect(page.get_by_role("columnheader", name="Talk time")).to_be_visible()
        await expect(sam_row.locator("td[data-col='hands']")).to_have_text("2")
        await expect(sue_row.locator("td[data-col='hands']")).to_have_text("0")
        await page.get_by_label("Find a student").fill("sue")
        await expect(page.locator("#students tbody tr")).to_have_count(1)
        await page.get_by_label("Find a student").fill("")
        await shots.take(page, "analytics-during-class")

        async with page.expect_download() as caught:
            await page.get_by_role("button", name="Download CSV").click()
        download = await caught.value
        text = await asyncio.to_thread(Path(await download.path()).read_text)
        table = {r["name"]: r for r in csv.DictReader(io.StringIO(text))}
        assert table["Sam Student"]["messages"] == "2"
        assert table["Sam Student"]["quizCorrect"] == "1"
        assert table["Sue Student"]["pollsAnswered"] == "0"
        assert (table["Sam Student"]["handsRaised"], table["Sue Student"]["handsRaised"]) == (
            "2",
            "0",
        )
        assert set(table) == {"Sam Student", "Sue Student"}

        # After the class: from the ended page; a student is refused.
        await teacher.get_by_role("button", name="End class").click()
        await teacher.get_by_role("dialog").get_by_role("button", name="End class").click()
        await state(teacher, "ended")
        await teacher.get_by_role("link", name="Class analytics").click()
        await expect(teacher.locator("main")).to_have_attribute("data-state", "ready")
        await expect(teacher.locator("#figures")).to_contain_text("ended")
        # Talk time is written as the class ends (and every few seconds during it).
        talk = teacher.locator("#students tr", has_text="Sam Student").locator(
            "td[data-col='talk']"
        )
        for _ in range(20):  # the end's write may land after the page's first read
            if float(await talk.get_attribute("data-seconds") or 0) > 0:
                break
            await teacher.get_by_role("button", name="Refresh").click()
            await expect(teacher.locator("main")).to_have_attribute("data-state", "ready")
        sam_talk = float(await talk.get_attribute("data-seconds") or 0)
        sue_talk = teacher.locator("#students tr", has_text="Sue Student").locator(
            "td[data-col='talk']"
        )
        assert sam_talk > 0
        await expect(sue_talk).to_have_attribute("data-seconds", "0")
        await expect(sue_talk).to_have_text("0 s")
        print(f"talk time: Sam {sam_talk} s (the tone), Sue 0 s (silent)")
        await teacher.set_viewport_size({"width": 375, "height": 800})
        await shots.take(teacher, "analytics-after-class-375px")
        await sue.goto(f"/analytics.html?session={session_id}")
        await expect(sue.locator("#error")).to_have_text(
            "Only the class's teacher sees its analytics."
        )
