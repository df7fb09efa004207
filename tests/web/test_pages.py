"""The pages on a 375 px phone and on a desktop, in real Chromium: nothing overflows
sideways, every control has a label, sign-in works with the keyboard alone, and the
screenshots of each page at both widths are kept (tests/web/browser.py, ``artifacts_dir``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.web.browser import Shots, chromium, open_page, server, sign_in

# Controls without a name, and how far the page scrolls sideways.
AUDIT = """() => {
  const unnamed = [...document.querySelectorAll("input, select, button, a[href]")]
    .filter((e) => e.offsetParent !== null)
    .filter((e) => {
      const labelled = (e.labels && e.labels.length > 0) || e.getAttribute("aria-label");
      const text = (e.textContent || "").trim();
      return !(labelled || (e.tagName === "BUTTON" || e.tagName === "A") && text);
    })
    .map((e) => e.outerHTML.slice(0, 80));
  return { unnamed, overflow: document.documentElement.scrollWidth - window.innerWidth };
}"""


async def audit(page: Page) -> None:
    result = await page.evaluate(AUDIT)
    assert result["unnamed"] == [], result
    assert result["overflow"] <= 0, result


async def keyboard_sign_in(page: Page) -> None:
    """Tab to the quick pick, choose with the arrow keys, submit with Enter."""
    await page.goto("/dev/signin")
    await expect(page.locator("#dev")).to_be_visible()
    for _ in range(20):
        if await page.evaluate("() => document.activeElement.id") == "dev-preset":
            break
        await page.keyboard.press("Tab")
    else:
        pytest.fail("the quick pick cannot be reached with Tab")
    await page.keyboard.press("ArrowDown")  # Tina Teacher
    await expect(page.get_by_label("Name")).to_have_value("Tina Teacher")
    await page.get_by_label("Tenant").press("Enter")
    await page.wait_for_url(lambda url: "signin" not in url)
    await expect(page.locator("#who")).to_contain_text("Tina")


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1280, 800)])
async def test_pages_at_phone_and_desktop_width(tmp_path: Path, width: int, height: int) -> None:
    shots = Shots(f"pages_{width}px")
    async with (
        server(tmp_path) as node,
        chromium() as browser,
        httpx.AsyncClient(base_url=node.http, timeout=30) as http,
    ):
        token = (
            await http.post(
                "/dev/token",
                json={"sub": "t1", "name": "Tina Teacher", "role": "instructor", "tenant": "acme"},
            )
        ).json()["token"]
        teacher = {"Authorization": f"Bearer {token}"}
        for name in ("Geometry (ended)", "Physics (upcoming)", "Algebra I"):
            room = name.split()[0].lower()
            body = {"title": name, "roomName": room, "maxParticipants": 150}
            assert (await http.post("/api/v1/sessions", json=body, headers=teacher)).is_success
        for path in ("geometry/start", "geometry/end", "algebra/start"):
            assert (await http.post(f"/api/v1/sessions/{path}", headers=teacher)).is_success

        _, page = await open_page(browser, node, width=width, height=height)
        await page.goto("/dev/signin")
        await expect(page.locator("#dev")).to_be_visible()
        await audit(page)
        await shots.take(page, "signin")
        await keyboard_sign_in(page)

        await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        await expect(page.locator("#live")).to_contain_text("Algebra I")
        await expect(page.locator("#scheduled")).to_contain_text("Physics")
        await expect(page.locator("#ended")).to_contain_text("Geometry")
        await audit(page)
        await shots.take(page, "sessions")

        await page.locator('[data-room="algebra"]').get_by_role("link").click()
        await expect(page.locator("main")).to_have_attribute("data-state", "live")
        await expect(page.locator("#stage video")).to_have_count(1)
        await page.get_by_label("Message").fill("Welcome, everyone")
        await page.get_by_label("Message").press("Enter")
        await expect(page.locator("#chat")).to_contain_text("Welcome, everyone")
        await expect(page.locator("#count")).to_have_text("0 / 150")  # the teacher takes no seat
        await audit(page)
        await shots.take(page, "classroom-teacher")

        await page.goto("/classroom.html?session=physics")
        await expect(page.locator("main")).to_have_attribute("data-state", "not-started")
        await audit(page)
        await shots.take(page, "classroom-not-started")

        await page.goto("/classroom.html?session=geometry")
        await expect(page.locator("main")).to_have_attribute("data-state", "ended")
        await audit(page)
        await shots.take(page, "classroom-ended")

        # A student is told when the room is full.
        body = {"title": "Tutoring", "roomName": "tiny", "maxParticipants": 1}
        assert (await http.post("/api/v1/sessions", json=body, headers=teacher)).is_success
        assert (await http.post("/api/v1/sessions/tiny/start", headers=teacher)).is_success
        sue = (
            await http.post(
                "/dev/token",
                json={"sub": "s2", "name": "Sue Student", "role": "student", "tenant": "acme"},
            )
        ).json()["token"]
        joined = await http.post(
            "/api/v1/sessions/tiny/join", headers={"Authorization": f"Bearer {sue}"}
        )
        assert joined.is_success, joined.text
        await sign_in(page, "Sam Student", next_path="/classroom.html?session=tiny")
        await expect(page.locator("main")).to_have_attribute("data-state", "room-full")
        await expect(page.locator("#state")).to_contain_text("The room is full")
        await audit(page)
        await shots.take(page, "classroom-room-full")
        for room in ("algebra", "tiny"):
            assert (await http.post(f"/api/v1/sessions/{room}/end", headers=teacher)).is_success
