"""The API reference at /docs renders the OpenAPI 3.1 document in Chromium (the Swagger UI 4
bundled before could not read 3.1: "Unable to render this definition")."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.browser import Shots, chromium, open_page, server


async def test_the_api_reference_renders(tmp_path: Path) -> None:
    shots = Shots("docs")
    async with server(tmp_path) as node, chromium() as browser:
        _, page = await open_page(browser, node)
        await page.goto("/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("liveclass")
        await expect(page.locator(".swagger-ui .opblock-summary").first).to_be_visible()
        assert await page.locator(".swagger-ui .opblock-summary").count() > 30
        await expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
        await shots.take(page, "docs", full_page=False)
