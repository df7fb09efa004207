"""Breakout rooms in real Chromium (issue 17): the teacher and four students; she opens two
rooms of two, each student's page moves to their room, chat inside a room reaches only that
room, her message reaches every room, she visits a room and goes back, then calls everyone
back and every page returns to the main room. Screenshots (1280 and 375 px) in
tests/web/artifacts/breakouts."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.web.a11y import check_screen, person
from tests.web.browser import Shots, chromium, server, sign_in_as
from tests.web.lesson import start, state

KIDS = [("Ann", "k1"), ("Ben", "k2"), ("Cat", "k3"), ("Dan", "k4")]


async def join_as(page: Page, name: str, sub: str, session_id: str) -> None:
    """A student (typed into the development sign-in) enters the live class."""
    await sign_in_as(page, name, sub, next_path=f"/classroom.html?session={session_id}")
    await state(page, "live")


async def chat(page: Page, text: str) -> None:
    await page.get_by_label("Message", exact=True).fill(text)
    await page.get_by_label("Message", exact=True).press("Enter")


async def test_breakout_rooms(tmp_path: Path) -> None:
    shots = Shots("breakouts")
    async with server(tmp_path) as node, chromium() as browser:
        # person(): pages that also take axe-core (the accessibility checks below).
        _, teacher = await person(browser, node)
        kids = []
        for i, _ in enumerate(KIDS):
            kids.append((await person(browser, node, width=375 if i == 0 else 1280))[1])
        session_id = await start(teacher, "Biology")
        for page, (name, sub) in zip(kids, KIDS, strict=True):
            await join_as(page, f"{name} Student", sub, session_id)
        await expect(teacher.locator("#count")).to_contain_text("4 /")

        # By hand: Ann and Ben in Room 1, Cat and Dan in Room 2; a 10-minute timer.
        panel = teacher.locator("#breakout-panel")
        await expect(panel).to_be_visible()
        await teacher.get_by_label("Rooms", exact=True).fill("2")
        await teacher.get_by_label("Timer in minutes (optional)").fill("10")
        await teacher.get_by_label("Choose by hand").check()
        for (name, _), room in zip(KIDS, ["0", "0", "1", "1"], strict=True):
            await teacher.get_by_label(f"Room for {name} Student").select_option(room)
        await shots.take(teacher, "teacher-plan-1280px")
        await teacher.get_by_role("button", name="Open breakout rooms").click()
        rooms = teacher.get_by_role("list", name="Breakout rooms")
        await expect(rooms.get_by_role("listitem")).to_have_count(2)
        await expect(rooms).to_contain_text("Ann Student, Ben Student")
        await expect(teacher.locator("#breakout-timer")).to_contain_text("left")

        # Every page moves to its room: its own people (2) and its own chat.
        for page, room in zip(kids, ["Room 1", "Room 1", "Room 2", "Room 2"], strict=True):
            await expect(page.locator("#breakout-where")).to_contain_text(f"You are in {room}")
            await state(page, "live")
            await expect(page.locator("#title")).to_contain_text(f"Biology · {room}")
        await expect(kids[0].locator("#count")).to_contain_text("2 / 2")
        await shots.take(kids[0], "student-in-room-375px")
        # axe-core's rules and the layout at 320, 375 and 1280 px, inside a room.
        problems = await check_screen(
            kids[0], shots, "a11y-student-in-room", ("#breakout-where", "#chat-text")
        )
        await chat(kids[0], "Room one only")
        await expect(kids[1].locator("#chat")).to_contain_text("Room one only")
        await chat(kids[2], "Room two here")
        await expect(kids[3].locator("#chat")).to_contain_text("Room two here")
        for other in kids[2:]:
            await expect(other.locator("#chat")).not_to_contain_text("Room one only")
        await expect(kids[0].locator("#chat")).not_to_contain_text("Room two here")

        # A message to every room.
        await teacher.get_by_label("Tell every room").fill("Five minutes left")
        await teacher.get_by_role("button", name="Send to all rooms").click()
        for page in kids:
            await expect(page.locator("#breakout-message")).to_contain_text(
                "Tina Teacher to all rooms: Five minutes left"
            )
        await shots.take(kids[3], "student-notice-1280px")

        # She visits Room 2, sees its chat, and goes back to the main room.
        await teacher.get_by_role("link", name="Visit Room 2").click()
        await expect(teacher.locator("#breakout-where")).to_contain_text("You are in Room 2")
        await expect(teacher.locator("#chat")).to_contain_text("Room two here")
        await shots.take(teacher, "teacher-visiting-1280px")
        await teacher.get_by_role("button", name="Back to main room").click()
        await expect(teacher.locator("#breakout-panel")).to_be_visible()
        await expect(rooms.get_by_role("listitem")).to_have_count(2)
        await shots.take(teacher, "teacher-rooms-open-1280px")
        problems += await check_screen(
            teacher,
            shots,
            "a11y-teacher-rooms-open",
            ("#breakout-move", "#breakout-send", "#breakout-close"),
        )
        assert problems == []

        # She moves Dan to Room 1: his page follows.
        await teacher.get_by_label("Student to move").select_option(label="Dan Student")
        await teacher.get_by_label("Move to").select_option(label="Room 1")
        await teacher.get_by_role("button", name="Move", exact=True).click()
        await expect(kids[3].locator("#breakout-where")).to_contain_text("You are in Room 1")
        await expect(kids[3].locator("#count")).to_contain_text("3 / 3")
        await expect(rooms).to_contain_text("Ann Student, Ben Student, Dan Student")

        # Call everyone back: every page returns to the main room.
        await teacher.get_by_role("button", name="Close rooms").click()
        for page in kids:
            await expect(page.locator("#title")).to_have_text("Biology")
            await state(page, "live")
            await expect(page.locator("#breakout-bar")).to_be_hidden()
        await expect(teacher.locator("#count")).to_contain_text("4 /")
        await expect(teacher.locator("#breakout-form")).to_be_visible()
        await shots.take(kids[0], "student-back-375px")
        await shots.take(teacher, "teacher-everyone-back-1280px")
