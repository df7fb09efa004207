"""A whole lesson in real Chromium (issue 17, acceptance 1): a teacher and three students go
through what a teacher does in one class, in order (waiting room, recording, a quiz, breakout
rooms, hands, a private question, chat moderation, mute, a removal undone, the end), on one
server, and the analytics page and its CSV match what happened. Each tool also has its own
test; this one shows they work together. Screenshots (desktop, 375 and 320 px) in
tests/web/artifacts/whole_lesson."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server, sign_in, sign_in_as
from tests.web.lesson import choose, start, state, video_playing

TITLE = "Light and colour"


async def test_a_whole_lesson(tmp_path: Path) -> None:
    shots = Shots("whole_lesson")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        _, tom = await open_page(browser, node, width=320, height=700)
        students = {"Sam Student": sam, "Sue Student": sue, "Tom Student": tom}
        session_id = await start(teacher, TITLE)
        classroom = f"/classroom.html?session={session_id}"

        # The waiting room: on, three students wait, one is let in, then the rest at once.
        await teacher.get_by_role("button", name="Turn waiting room on").click()
        await sign_in(sam, "Sam Student", next_path=classroom)
        await sign_in(sue, "Sue Student", next_path=classroom)
        await sign_in_as(tom, "Tom Student", "s3", next_path=classroom)
        for page in students.values():
            await state(page, "waiting")
            await expect(page.locator("#state-text")).to_contain_text(TITLE)
        waiting = teacher.get_by_role("list", name="Waiting to be let in")
        await expect(waiting.get_by_role("listitem")).to_have_count(3)
        await shots.take(tom, "tom-waits-320px")
        await teacher.get_by_role("button", name="Admit Sam Student").click()
        await state(sam, "live")
        await teacher.get_by_role("button", name="Admit all").click()
        for page in students.values():
            await state(page, "live")
        await expect(teacher.locator("#roster li")).to_have_count(4)

        # Recording, and every student is told.
        await teacher.get_by_role("button", name="Start recording").click()
        for page in students.values():
            await expect(page.locator("#recording-badge")).to_have_text("● Recording")
        await shots.take(sue, "sue-sees-recording-375px")

        # A quiz: everyone answers, the teacher watches, closes and shares.
        await teacher.get_by_text("New poll or quiz").click()
        await teacher.get_by_label("Question", exact=True).fill("Which colour bends most?")
        await teacher.get_by_label("Option 1", exact=True).fill("Red")
        await teacher.get_by_label("Option 2", exact=True).fill("Violet")
        await teacher.get_by_label("Correct answer").select_option(label="Violet")
        await teacher.get_by_role("button", name="Launch poll").click()
        for page, answer in ((sam, "Violet"), (sue, "Violet"), (tom, "Red")):
            await expect(page.locator("#poll-question-shown")).to_have_text(
                "Which colour bends most?"
            )
            await page.get_by_label(answer).check()
            await page.get_by_role("button", name="Vote").click()
            await expect(page.locator("#poll-note")).to_contain_text("Your vote is in")
        await expect(teacher.locator("#poll-current")).to_contain_text("3 voted")
        await teacher.get_by_role("button", name="Close poll").click()
        await teacher.get_by_role("button", name="Share results").click()
        await expect(sam.locator("#poll-verdict")).to_have_text("You got it right.")
        await expect(tom.locator("#poll-verdict")).not_to_have_text("You got it right.")
        await shots.take(teacher, "teacher-quiz-results")

        # Breakout rooms of two, by the automatic split, then everyone is called back.
        await teacher.get_by_label("Rooms", exact=True).fill("2")
        await teacher.get_by_role("button", name="Open breakout rooms").click()
        rooms = teacher.get_by_role("list", name="Breakout rooms")
        await expect(rooms.get_by_role("listitem")).to_have_count(2)
        for page in students.values():
            await expect(page.locator("#breakout-where")).to_contain_text("You are in Room")
            await state(page, "live")
        where = {n: await p.locator("#breakout-where").inner_text() for n, p in students.items()}
        together = [n for n in students if "Room 1" in where[n]]
        assert len(together) == 2, where  # three students in two rooms: two, and one
        first, second = (students[n] for n in together)
        await first.get_by_label("Message", exact=True).fill("just our room")
        await first.get_by_label("Message", exact=True).press("Enter")
        await expect(second.locator("#chat")).to_contain_text("just our room")
        await shots.take(tom, "tom-in-a-breakout-room-320px")
        await teacher.get_by_role("button", name="Close rooms").click()
        for page in students.values():
            await expect(page.locator("#title")).to_have_text(TITLE)
            await state(page, "live")
            await expect(page.locator("#chat")).not_to_contain_text("just our room")
        await expect(teacher.locator("#roster li")).to_have_count(4)

        # Hands: two go up in order; the teacher lowers one, the other lowers her own.
        await sam.get_by_role("button", name="Raise hand").click()
        await sue.get_by_role("button", name="Raise hand").click()
        await expect(teacher.locator("#hands-count")).to_have_text("✋ 2 hands up")
        await expect(teacher.locator("#roster li").first).to_contain_text("Sam Student")
        await choose(teacher, "Sam Student")
        await teacher.get_by_role("button", name="Lower hand for Sam Student").click()
        await expect(sam.locator("#notice")).to_have_text("Tina Teacher lowered your hand.")
        await sue.get_by_role("button", name="Lower hand").click()
        await expect(teacher.locator("#hands-count")).to_be_hidden()

        # A private question: only the teacher (and the asker) see it.
        await tom.get_by_label("Your question to the teacher").fill("Why is the sky blue?")
        await tom.get_by_label("Your question to the teacher").press("Enter")
        questions = teacher.get_by_role("list", name="Private questions")
        await expect(questions).to_contain_text("Why is the sky blue?")
        await expect(sam.get_by_role("list", name="Private questions")).not_to_contain_text("sky")
        await teacher.get_by_label("Answer to Tom Student").fill("Shorter waves scatter more.")
        await teacher.get_by_role("button", name="Answer Tom Student's question").click()
        await expect(tom.get_by_role("list", name="Private questions")).to_contain_text(
            "Shorter waves scatter more."
        )

        # Chat, and a post the teacher deletes vanishes for everyone.
        for text in ("prisms are cool", "this is boring"):
            await sam.get_by_label("Message").fill(text)
            await sam.keyboard.press("Enter")
        everyone = [teacher, *students.values()]
        for page in everyone:
            await expect(page.locator("#chat li")).to_have_count(2)
        await (
            teacher.locator("#chat li", has_text="boring")
            .get_by_role("button", name="Delete Sam Student's chat post")
            .click()
        )
        for page in everyone:
            await expect(page.locator("#chat li", has_text="boring")).to_have_count(0)
            await expect(page.locator("#chat li", has_text="prisms")).to_have_count(1)

        # Mute: Sue may use her camera, turns it on, the teacher mutes her, she is told.
        sue_id = await sue.evaluate("() => window.liveclassRoom.me.id")
        await choose(teacher, "Sue Student")
        await teacher.get_by_role("button", name="Allow camera for Sue Student").click()
        await sue.get_by_role("button", name="Turn camera on").click()
        await video_playing(teacher, f'#stage video[data-participant="{sue_id}"]')
        await teacher.get_by_role("button", name="Mute Sue Student").click()
        await expect(sue.locator("#notice")).to_contain_text("Tina Teacher turned off your camera")
        await expect(sue.get_by_role("button", name="Turn camera on")).to_be_visible()
        await shots.take(sue, "sue-told-she-was-muted-375px")

        # A removal, undone: Tom is removed (asked first), let back in, and rejoins.
        await choose(teacher, "Tom Student")
        await teacher.get_by_role("button", name="Remove Tom Student").click()
        await teacher.get_by_role("dialog").get_by_role("button", name="Remove").click()
        await state(tom, "removed")
        await teacher.get_by_role("button", name="Undo: let Tom Student back in").click()
        await expect(teacher.locator("#teacher-note")).to_have_text("Tom Student may join again.")
        await tom.reload()
        await state(tom, "live")  # the waiting room is still on: the host let him back in
        await expect(teacher.locator("#roster")).to_contain_text("Tom Student")

        # Recording stops; the class ends, asked first.
        await teacher.get_by_role("button", name="Stop recording").click()
        await expect(sam.locator("#recording-badge")).to_be_hidden()
        await teacher.get_by_role("button", name="End class").click()
        await teacher.keyboard.press("Escape")
        await expect(teacher.get_by_role("dialog")).to_have_count(0)
        await expect(sam.locator("main")).to_have_attribute("data-state", "live")
        await teacher.get_by_role("button", name="End class").click()
        await teacher.get_by_role("dialog").get_by_role("button", name="End class").click()
        for page in everyone:
            await state(page, "ended")
        await shots.take(tom, "tom-class-ended-320px")

        # The analytics page and its CSV say what happened.
        await teacher.get_by_role("link", name="Class analytics").click()
        await expect(teacher.locator("main")).to_have_attribute("data-state", "ready")
        await expect(teacher.locator("#figures")).to_contain_text("ended")
        rows = teacher.locator("#students tbody tr")
        await expect(rows).to_have_count(3)
        await shots.take(teacher, "analytics")
        async with teacher.expect_download() as caught:
            await teacher.get_by_role("button", name="Download CSV").click()
        download = await caught.value
        text = await asyncio.to_thread(Path(await download.path()).read_text)
        table = {row["name"]: row for row in csv.DictReader(io.StringIO(text))}
        assert set(table) == set(students), table
        assert table["Sam Student"]["messages"] == "1", table  # the deleted post is gone
        assert table["Sue Student"]["messages"] == "0", table
        for name, row in table.items():
            assert row["pollsAnswered"] == "1", (name, row)
        assert {n: r["quizCorrect"] for n, r in table.items()} == {
            "Sam Student": "1",
            "Sue Student": "1",
            "Tom Student": "0",
        }
        # Attendance follows them across rooms: the class, a breakout room, the class again;
        # Tom once more after his removal was undone.
        assert {n: r["joins"] for n, r in table.items()} == {
            "Sam Student": "3",
            "Sue Student": "3",
            "Tom Student": "4",
        }
        assert {n: r["handsRaised"] for n, r in table.items()} == {
            "Sam Student": "1",
            "Sue Student": "1",
            "Tom Student": "0",
        }
