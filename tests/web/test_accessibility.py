"""Every page of the web app passes axe-core's WCAG 2 A/AA rules (contrast and labels among
them), does not scroll sideways at 320, 375 and 1280 px with its main controls on screen, and
a class can be run with the keyboard alone (issue 17, acceptance 4).

The screens: sign-in (development and token), the class list (teacher and student), the
classroom before the class starts (teacher and student), the waiting room and being refused,
the live classroom as teacher (poll tally and the poll form, a raised hand, a question, the
waiting room, the roster with a person chosen, chat) and as student (the ballot, a raised
hand, a question asked, chat), the question before ending the class (at 320 px), the
analytics page, the ended class (teacher and student), the API
reference at /docs, and the error pages (an unknown address, an unknown class).
Screenshots of each screen at each width: tests/web/artifacts/accessibility (a11y.py).

One server and one Chromium serve both tests (a module-scoped fixture, one xdist worker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.integration.cluster import Node
from tests.web.a11y import WIDTHS, check_screen, person, tab_to
from tests.web.browser import Shots, chromium, server, sign_in
from tests.web.lesson import join, start, state

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.xdist_group("accessibility"),
]

# The controls each screen must show whole at every width.
HEADER = ("header.top .brand",)
CLASSROOM = (*HEADER, "#leave", "#status", "#count")
LIVE = (*CLASSROOM, "#chat-text", "#chat-send")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Node, Browser]]:
    async with server(tmp_path_factory.mktemp("a11y")) as node, chromium() as browser:
        yield node, browser


async def token(http: httpx.AsyncClient, sub: str, name: str, role: str) -> dict[str, str]:
    body = {"sub": sub, "name": name, "role": role, "tenant": "acme"}
    minted = (await http.post("/dev/token", json=body)).json()["token"]
    return {"Authorization": f"Bearer {minted}"}


async def classes(node: Node) -> None:
    """An upcoming and an ended class besides the live ones the test starts."""
    async with httpx.AsyncClient(base_url=node.http, timeout=30) as http:
        tina = await token(http, "t1", "Tina Teacher", "instructor")
        for title, room in (("Geometry", "geometry"), ("Physics", "physics")):
            body = {"title": title, "roomName": room, "maxParticipants": 30}
            assert (await http.post("/api/v1/sessions", json=body, headers=tina)).is_success
        for step in ("start", "end"):
            done = await http.post(f"/api/v1/sessions/geometry/{step}", headers=tina)
            assert done.is_success, done.text


async def test_every_screen(stack: tuple[Node, Browser]) -> None:
    node, browser = stack
    shots = Shots("accessibility")
    problems: list[str] = []
    await classes(node)

    _, anon = await person(browser, node)
    await anon.goto("/dev/signin")
    await expect(anon.locator("#dev")).to_be_visible()
    problems += await check_screen(anon, shots, "signin", (*HEADER, "#dev-preset", "#dev-submit"))
    await anon.goto("/no/such/page")
    problems += await check_screen(anon, shots, "not-found-page", (*HEADER, "main .button"))
    await anon.goto("/docs")
    await expect(anon.locator(".swagger-ui .opblock-summary").first).to_be_visible()
    # Swagger UI's markup is its own: WCAG, not axe-core's best practices.
    problems += await check_screen(
        anon, shots, "docs", (".swagger-ui .info .title",), best_practice=False, full_page=False
    )

    _, tina = await person(browser, node)
    await sign_in(tina, "Tina Teacher")
    await expect(tina.locator("#ended")).to_contain_text("Geometry")
    problems += await check_screen(
        tina, shots, "classes-teacher", (*HEADER, "#title", "#create-submit")
    )
    await tina.goto("/classroom.html?session=physics")
    await state(tina, "not-started")
    problems += await check_screen(
        tina, shots, "not-started-teacher", (*CLASSROOM, "#start-class-big")
    )
    await tina.goto("/classroom.html?session=nope")
    await state(tina, "not-found")
    problems += await check_screen(
        tina, shots, "class-not-found", (*HEADER, "#leave", "#state-actions a")
    )

    session_id = await start(tina, "Algebra")
    _, sam = await person(browser, node)
    await join(sam, "Sam Student", session_id)
    await sam.goto("/")
    await expect(sam.locator("#live")).to_contain_text("Algebra")
    problems += await check_screen(sam, shots, "classes-student", (*HEADER, "#live .button"))
    await sam.goto("/classroom.html?session=physics")
    await state(sam, "not-started")
    problems += await check_screen(sam, shots, "not-started-student", CLASSROOM)
    await sam.goto(f"/classroom.html?session={session_id}")
    await state(sam, "live")

    await tina.get_by_role("button", name="Turn waiting room on").click()
    _, sue = await person(browser, node, width=320)
    await sign_in(sue, "Sue Student", next_path=f"/classroom.html?session={session_id}")
    await state(sue, "waiting")
    problems += await check_screen(sue, shots, "waiting", CLASSROOM)

    await sam.get_by_label("Message").fill("Good morning")
    await sam.get_by_label("Message").press("Enter")
    await expect(tina.locator("#chat")).to_contain_text("Good morning")
    await sam.get_by_role("button", name="Raise hand").click()
    await sam.get_by_label("Your question to the teacher").fill("Why is the sky blue?")
    await sam.get_by_role("button", name="Ask", exact=True).click()
    await tina.get_by_text("New poll or quiz").click()
    await tina.get_by_label("Question", exact=True).fill("Which planet is the largest?")
    await tina.get_by_label("Option 1", exact=True).fill("Mars")
    await tina.get_by_label("Option 2", exact=True).fill("Jupiter")
    await tina.get_by_role("button", name="Launch poll").click()
    await expect(sam.locator("#poll-question-shown")).to_be_visible()
    problems += await check_screen(
        sam, shots, "live-student", (*LIVE, "#hand", "#question-text", ".poll-vote button")
    )
    await sam.get_by_label("Jupiter").check()
    await sam.get_by_role("button", name="Vote").click()
    await expect(tina.locator("#poll-current")).to_contain_text("1 voted")
    await tina.get_by_text("New poll or quiz").click()
    await tina.get_by_role("button", name="Choose Sam Student").click()
    await expect(tina.locator("#waiting-list li")).to_have_count(1)
    await expect(tina.locator("#questions li")).to_have_count(1)
    teacher_controls = (
        *LIVE,
        "#end-class",
        "#waiting-toggle",
        "#waiting-list button",
        "#roster-actions button",
        "#poll-close",
        "#poll-launch",
        "#questions button",
    )
    problems += await check_screen(tina, shots, "live-teacher", teacher_controls)

    await tina.get_by_role("button", name="Refuse Sue Student").click()
    await state(sue, "refused")
    problems += await check_screen(sue, shots, "refused", (*CLASSROOM, "#state-actions button"))

    await tina.get_by_role("button", name="End class").click()
    dialog = tina.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    problems += await check_screen(
        tina, shots, "confirm-end", ("dialog button",), widths=WIDTHS[:1], full_page=False
    )
    await dialog.get_by_role("button", name="End class").click()
    await state(tina, "ended")
    await state(sam, "ended")
    problems += await check_screen(tina, shots, "ended-teacher", (*CLASSROOM, "#analytics-after"))
    problems += await check_screen(sam, shots, "ended-student", (*CLASSROOM, "#state-actions a"))

    await tina.locator("#analytics-after").click()
    await expect(tina.locator("#students tbody tr")).to_have_count(1)
    problems += await check_screen(tina, shots, "analytics", (*HEADER, "#download", "#filter"))

    assert problems == [], "\n".join(problems)


async def test_keyboard_only(stack: tuple[Node, Browser]) -> None:
    """A class run with Tab, Shift+Tab, Enter and Space alone (and typing text), the focus
    visible on every control it passes: the teacher schedules and starts the class and turns
    the waiting room on; a student joins from the class list and waits; the teacher admits
    him; he chats, raises his hand and answers the teacher's poll; she ends the class."""
    node, browser = stack
    shots = Shots("accessibility_keyboard")
    _, tina = await person(browser, node)
    _, sam = await person(browser, node, width=375)
    await sign_in(tina, "Tina Teacher")
    await sign_in(sam, "Sam Student")

    # The skip link comes first, and shows when it has the focus.
    await tab_to(tina, "Skip to content")
    await expect(tina.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    await tab_to(tina, "title")
    await tina.keyboard.type("Keyboard class")
    await tab_to(tina, "create-submit")
    await tina.keyboard.press("Enter")
    await state(tina, "not-started")
    await tab_to(tina, "start-class-big")
    await tina.keyboard.press("Enter")
    await state(tina, "live")
    await tab_to(tina, "waiting-toggle")
    await tina.keyboard.press("Space")
    await expect(tina.locator("#waiting-toggle")).to_have_attribute("aria-pressed", "true")

    await sam.reload()
    await expect(sam.locator("#live")).to_contain_text("Keyboard class")
    await tab_to(sam, "Join")
    await sam.keyboard.press("Enter")
    await state(sam, "waiting")
    await tab_to(tina, "Admit Sam Student")
    await shots.take(tina, "teacher-admits")
    await tina.keyboard.press("Enter")
    await state(sam, "live")

    await tab_to(sam, "chat-text")
    await sam.keyboard.type("Hello from the keyboard")
    await sam.keyboard.press("Enter")
    await expect(tina.locator("#chat")).to_contain_text("Hello from the keyboard")
    await tab_to(sam, "hand", backwards=True)
    await sam.keyboard.press("Space")
    await expect(sam.locator("#hand")).to_have_attribute("aria-pressed", "true")
    await expect(tina.locator("#hands-count")).to_have_text("✋ 1 hand up")

    await tab_to(tina, "New poll or quiz")
    await tina.keyboard.press("Enter")
    await tab_to(tina, "poll-question")
    await tina.keyboard.type("Which planet is the largest?")
    await tab_to(tina, "Option 1")
    await tina.keyboard.type("Jupiter")
    await tab_to(tina, "Option 2")
    await tina.keyboard.type("Mars")
    await tab_to(tina, "poll-launch")
    await tina.keyboard.press("Enter")
    await expect(sam.locator("#poll-question-shown")).to_be_visible()
    await tab_to(sam, "Jupiter")
    await sam.keyboard.press("Space")
    await tab_to(sam, "Vote")
    await shots.take(sam, "student-votes-375px")
    await sam.keyboard.press("Enter")
    await expect(tina.locator("#poll-current")).to_contain_text("1 voted")
    await expect(tina.locator(".poll-bars li", has_text="Jupiter")).to_contain_text("1 · 100%")

    await tab_to(tina, "end-class", backwards=True)
    await tina.keyboard.press("Enter")
    dialog = tina.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await tab_to(tina, "End class", backwards=True)
    await shots.take(tina, "teacher-ends", full_page=False)
    await tina.keyboard.press("Enter")
    await state(tina, "ended")
    await state(sam, "ended")
