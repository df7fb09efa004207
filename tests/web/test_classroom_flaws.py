"""The classroom flaws a teacher and students hit in their first minutes (issue 17), each
checked in real Chromium as they met it; every check here failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from playwright.async_api import expect

from tests.integration.cluster import free_port, start_node
from tests.web.browser import Shots, chromium, open_page, server, sign_in
from tests.web.lesson import choose, join, schedule, start, state, video_playing


async def test_a_lesson_as_the_teacher_and_her_students_meet_it(tmp_path: Path) -> None:
    shots = Shots("classroom_flaws")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node, width=375, height=800)
        session_id = await schedule(teacher, "Chemistry", seats=2)

        # The waiting page says when the class starts and is left alone while it waits: the
        # link a student may be on stays the same element (it was rebuilt every 3 s).
        await sign_in(sam, "Sam Student", next_path=f"/classroom.html?session={session_id}")
        await state(sam, "not-started")
        await expect(sam.locator("#state-text")).to_contain_text("scheduled for")
        await sam.evaluate(
            "() => { window.firstLink = document.querySelector('#state-actions a'); }"
        )
        for _ in range(2):  # two looks at the session, three seconds apart
            async with sam.expect_request(lambda r: r.url.endswith(f"/sessions/{session_id}")):
                pass
        assert await sam.evaluate(
            "() => document.querySelector('#state-actions a') === window.firstLink"
        )
        await shots.take(sam, "waiting-page")

        await teacher.get_by_role("button", name="Start class").click()
        await state(teacher, "live")
        await state(sam, "live")
        await join(sue, "Sue Student", session_id)

        # The teacher raises no hands; the header counts seats (the teacher takes none): a
        # full two-seat class reads 2 / 2, not 3 / 2.
        await expect(teacher.get_by_role("button", name="Raise hand")).to_be_hidden()
        await expect(sam.get_by_role("button", name="Raise hand")).to_be_visible()
        for page in (teacher, sam, sue):
            await expect(page.locator("#count")).to_have_text("2 / 2")
        await expect(teacher.locator("#count-side")).to_have_text("(3)")

        # Mute is offered only for someone who sends; a camera allowed can be taken back.
        sue_id = await sue.evaluate("() => window.liveclassRoom.me.id")
        await choose(teacher, "Sue Student")
        await expect(teacher.get_by_role("button", name="Mute Sue Student")).to_have_count(0)
        # (a connection of Sue's that her page replaced may linger a tick in the roster)
        await expect(teacher.locator("#roster li", has_text="Sue Student")).to_have_count(1)
        await teacher.get_by_role("button", name="Allow camera for Sue Student").click()
        await sue.get_by_role("button", name="Turn camera on").click()
        await video_playing(teacher, f'#stage video[data-participant="{sue_id}"]')
        await expect(teacher.get_by_role("button", name="Mute Sue Student")).to_be_visible()
        await expect(teacher.get_by_role("button", name="Mute Sam Student")).to_have_count(0)

        # Muted by the teacher, Sue is told, and her buttons say what happened.
        await teacher.get_by_role("button", name="Mute Sue Student").click()
        await expect(sue.locator("#notice")).to_contain_text("Tina Teacher turned off your camera")
        await expect(sue.get_by_role("button", name="Turn camera on")).to_be_visible()
        await expect(teacher.locator(f'#stage video[data-participant="{sue_id}"]')).to_have_count(0)
        await shots.take(sue, "sue-told-she-was-muted-375px")
        await sue.get_by_role("button", name="Turn camera on").click()
        await video_playing(teacher, f'#stage video[data-participant="{sue_id}"]')
        await teacher.get_by_role("button", name="Stop camera for Sue Student").click()
        await expect(sue.get_by_role("button", name="Turn camera off")).to_be_hidden()
        await expect(
            teacher.get_by_role("button", name="Allow camera for Sue Student")
        ).to_be_visible()

        # Students are told that the class is being recorded, also one arriving later.
        await sam.get_by_role("button", name="Leave").click()
        await sam.wait_for_url(lambda url: "classroom" not in url)  # Leave goes home
        await teacher.get_by_role("button", name="Start recording").click()
        await expect(sue.locator("#recording-badge")).to_be_visible()
        await expect(sue.locator("#recording-badge")).to_have_text("● Recording")
        await sam.goto(f"/classroom.html?session={session_id}")
        await state(sam, "live")
        await expect(sam.locator("#recording-badge")).to_be_visible()
        await shots.take(sue, "sue-sees-recording-375px")
        await teacher.get_by_role("button", name="Stop recording").click()
        await expect(sue.locator("#recording-badge")).to_be_hidden()

        # Remove asks first: cancelled, Sam stays; confirmed, he goes.
        await choose(teacher, "Sam Student")
        await teacher.get_by_role("button", name="Remove Sam Student").click()
        dialog = teacher.get_by_role("dialog")
        await expect(dialog).to_contain_text("Remove Sam Student from this class?")
        await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        await shots.take(teacher, "remove-asks-first")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_have_count(0)
        await expect(sam.locator("main")).to_have_attribute("data-state", "live")
        await teacher.get_by_role("button", name="Remove Sam Student").click()
        await teacher.get_by_role("dialog").get_by_role("button", name="Remove").click()
        await state(sam, "removed")
        # ...and the removal can be undone: Sam comes back.
        await expect(
            teacher.get_by_role("button", name="Let Sam Student back in", exact=True)
        ).to_be_visible()
        await shots.take(teacher, "removed-with-undo")
        await teacher.get_by_role("button", name="Undo: let Sam Student back in").click()
        await expect(teacher.locator("#teacher-note")).to_have_text("Sam Student may join again.")
        await expect(
            teacher.get_by_role("button", name="Let Sam Student back in", exact=True)
        ).to_have_count(0)
        await sam.reload()
        await state(sam, "live")
        await expect(teacher.locator("#roster")).to_contain_text("Sam Student")

        # End class asks first too; once ended, nobody's header still says "live".
        await teacher.get_by_role("button", name="End class").click()
        await teacher.keyboard.press("Escape")
        await expect(teacher.get_by_role("dialog")).to_have_count(0)
        await expect(sue.locator("main")).to_have_attribute("data-state", "live")
        await teacher.get_by_role("button", name="End class").click()
        await teacher.get_by_role("dialog").get_by_role("button", name="End class").click()
        for page in (teacher, sue):
            await state(page, "ended")
            await expect(page.locator("#status")).to_have_text("ended")


async def test_chat_keeps_what_you_type_next_shows_failures_and_isolates_rtl(
    tmp_path: Path,
) -> None:
    shots = Shots("classroom_chat")
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        session_id = await start(teacher, "Languages", seats=10)
        message = teacher.get_by_label("Message")

        # The first message's ack is slow; the next one is being typed meanwhile.
        await teacher.evaluate(
            """() => {
              const client = window.liveclassRoom.client, chat = client.chat.bind(client);
              window.releaseAck = null;
              client.chat = async (text) => {
                await new Promise((go) => { window.releaseAck = go; });
                return chat(text);
              };
            }"""
        )
        await message.fill("first")
        await message.press("Enter")
        await teacher.wait_for_function("() => window.releaseAck !== null")
        await message.press_sequentially("second")
        await teacher.evaluate("() => window.releaseAck()")
        await expect(teacher.locator("#chat")).to_contain_text("first")
        await expect(message).to_have_value("second")

        # A message that cannot be sent says so beside the chat, and is not lost.
        await teacher.evaluate(
            """() => { window.liveclassRoom.client.chat = () =>
                 Promise.reject(new Error("not connected")); }"""
        )
        await message.fill("lost?")
        await message.press("Enter")
        await expect(teacher.locator("#chat-error")).to_have_text("Message not sent: not connected")
        await expect(message).to_have_value("lost?")

        # Right-to-left text keeps its time after it, not inside it.
        async with httpx.AsyncClient(base_url=node.http) as http:
            token = await teacher.evaluate(
                "() => JSON.parse(sessionStorage.getItem('liveclass.auth')).token"
            )
            posted = await http.post(
                f"/api/v1/sessions/{session_id}/messages",
                json={"text": "שלום לכולם 123"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert posted.status_code == 201, posted.text
        item = teacher.locator("#chat li", has_text="שלום")
        await expect(item.locator("bdi.text")).to_have_text("שלום לכולם 123")
        # The time comes after the end of the text: right of its last line, or below it.
        after = await item.evaluate(
            """(li) => {
              const lines = li.querySelector(".text").getClientRects();
              const last = lines[lines.length - 1];
              const time = li.querySelector("time").getClientRects()[0];
              return time.left >= last.right - 1 || time.top >= last.bottom - 1;
            }"""
        )
        assert after
        await shots.take(teacher, "chat-rtl")


async def test_a_free_live_class_offers_join_not_enroll(tmp_path: Path) -> None:
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        session_id = await start(teacher, "Open day", seats=10)
        await sign_in(sam, "Sam Student")
        card = sam.locator(f'[data-session="{session_id}"]')
        await expect(card.get_by_role("link", name="Join")).to_be_visible()
        await expect(card.get_by_role("button", name="Enroll")).to_have_count(0)


async def test_after_a_server_restart_no_stale_tile_is_left(tmp_path: Path) -> None:
    """The embedded server restarts (its in-process Redis is gone, so nobody can resume):
    the pages come back as new participants, and the student sees the teacher's video once,
    named, without the old connection's black tile labelled "Participant"."""
    port, data = free_port(), tmp_path / "data"
    async with chromium() as browser:
        async with start_node("web", {}, data, port=port, startup_timeout=90) as first:
            _, teacher = await open_page(browser, first)
            _, sam = await open_page(browser, first)
            session_id = await start(teacher, "Restart", seats=10)
            await join(sam, "Sam Student", session_id)
            await video_playing(sam, "#stage .tile.host video")
            old_id = await teacher.evaluate("() => window.liveclassRoom.me.id")
            first.kill()
        async with start_node("web", {}, data, port=port, startup_timeout=90):
            await sam.wait_for_function(
                "(old) => window.liveclassRoom.client.welcome?.participant && "
                "window.liveclassRoom.me && !window.liveclassRoom.client.welcome.resumed",
                arg=old_id,
            )
            await teacher.wait_for_function(
                "(old) => window.liveclassRoom.me && window.liveclassRoom.me.id !== old",
                arg=old_id,
            )
            new_id = await teacher.evaluate("() => window.liveclassRoom.me.id")
            await video_playing(sam, f'#stage video[data-participant="{new_id}"]')
            await expect(sam.locator(f'#stage [data-participant="{old_id}"]')).to_have_count(0)
            await expect(sam.locator("#stage figcaption", has_text="Participant")).to_have_count(0)
            assert json.loads(
                await sam.evaluate("() => JSON.stringify([...window.liveclassRoom.tiles.keys()])")
            ) == [new_id]


async def test_a_visitor_is_told_where_they_are_and_what_went_wrong(tmp_path: Path) -> None:
    """Signed out at /: the sign-in page says what the site is. A pasted token that is not a
    token: words, not a JavaScript parser's message. An unknown address in the browser: a
    page, not raw JSON (API clients still get the JSON error)."""
    async with server(tmp_path) as node, chromium() as browser:
        _, page = await open_page(browser, node, width=375, height=800)
        await page.goto("/")
        await page.wait_for_url(lambda url: "signin" in url)
        await expect(page.locator("#about")).to_contain_text("live classes")

        await page.get_by_label("Bearer token").fill("not-a-token")
        await page.locator("#token-form").get_by_role("button", name="Sign in").click()
        error = page.locator("#token-error")
        await expect(error).to_contain_text("this is not a sign-in token")
        for leak in ("JSON", "Syntax", "atob", "token '"):
            await expect(error).not_to_contain_text(leak)

        await page.goto("/no/such/page")
        await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        await expect(page.get_by_role("link", name="Your classes")).to_have_attribute("href", "/")
        async with httpx.AsyncClient(base_url=node.http) as http:
            api = await http.get("/no/such/page", headers={"Accept": "application/json"})
        assert api.status_code == 404
        assert api.json()["error"]["code"] == "not_found"


async def test_raised_hands_queue_first_with_a_count_a_notice_and_a_sound(tmp_path: Path) -> None:
    async with server(tmp_path) as node, chromium() as browser:
        _, teacher = await open_page(browser, node)
        _, sam = await open_page(browser, node)
        _, sue = await open_page(browser, node)
        session_id = await start(teacher, "Questions", seats=10)
        for page, name in ((sam, "Sam Student"), (sue, "Sue Student")):
            await join(page, name, session_id)
        await expect(teacher.locator("#roster li")).to_have_count(3)

        # Sue first, then Sam: the queue keeps that order, whatever the names' order.
        await sue.get_by_role("button", name="Raise hand").click()
        await expect(teacher.locator("#hands-count")).to_have_text("✋ 1 hand up")
        await sam.get_by_role("button", name="Raise hand").click()
        await expect(teacher.locator("#hands-count")).to_have_text("✋ 2 hands up")
        await expect(teacher.locator("#notice")).to_have_text(
            "Sam Student raised their hand (2 up)."
        )
        names = teacher.locator("#roster li .name")
        # Raised hands come first (even before the teacher), in the order they went up.
        await expect(names.nth(0)).to_contain_text("hand up #1")
        await expect(names.nth(0)).to_contain_text("Sue Student")
        await expect(names.nth(1)).to_contain_text("hand up #2")
        await expect(names.nth(1)).to_contain_text("Sam Student")
        await expect(names.nth(2)).to_contain_text("Tina Teacher")
        await teacher.wait_for_function("() => window.liveclassRoom.chimes === 2")
        await sue.get_by_role("button", name="Lower hand").click()
        await expect(teacher.locator("#hands-count")).to_have_text("✋ 1 hand up")
        await expect(names.nth(0)).to_contain_text("Sam Student")
        await expect(names.nth(0)).to_contain_text("hand up #1")
