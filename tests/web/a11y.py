"""Accessibility checks of a page in real Chromium (issue 17): axe-core's WCAG 2 A/AA rules
(contrast and labels among them), sideways overflow and clipped controls at phone and desktop
widths, and focus moved with the keyboard alone.

axe-core is the npm package pinned in package.json (package-lock.json), installed by
scripts/ensure-node-tools.sh; its ``axe.min.js`` is injected from node_modules into the page
under test (contexts from :func:`person` bypass the pages' Content-Security-Policy for that
alone). Nothing is downloaded at test time.

Checks return a list of problems (empty: none) rather than failing at once, so one run
over every screen reports them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.integration.cluster import Node
from tests.web.browser import WAIT_MS, Shots

__all__ = [
    "AXE_JS",
    "WIDTHS",
    "axe_violations",
    "check_screen",
    "focused",
    "layout_problems",
    "person",
    "tab_to",
]

ROOT = Path(__file__).resolve().parent.parent.parent
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: The widths every screen is checked at (px), with a height each: the smallest phones, a
#: common phone, a desktop.
WIDTHS = ((320, 640), (375, 812), (1280, 800))
#: axe-core's rule tags for WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: And its best practices (landmarks, headings, unique names): our own pages keep them too.
BEST_PRACTICE = "best-practice"

_RUN_AXE = """async (tags) => {
  const result = await window.axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact || "",
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary || "" })),
  }));
}"""

# Sideways overflow, the controls of `selectors` that are missing, hidden or cut off, input
# hints (placeholders) cut off, and empty badges.
_LAYOUT = """(selectors) => {
  const width = window.innerWidth;
  const problems = [];
  const scroll = document.scrollingElement.scrollWidth;
  if (scroll > width) problems.push(`the page is ${scroll} px wide in a ${width} px window`);
  for (const selector of selectors) {
    const found = [...document.querySelectorAll(selector)];
    if (found.length === 0) { problems.push(`${selector}: not on the page`); continue; }
    for (const e of found) {
      const box = e.getBoundingClientRect();
      const style = getComputedStyle(e);
      if (box.width === 0 || box.height === 0 || style.visibility === "hidden") {
        problems.push(`${selector}: not visible`);
      } else if (box.left < -0.5 || box.right > width + 0.5) {
        const span = `${Math.round(box.left)}..${Math.round(box.right)} px`;
        problems.push(`${selector}: cut off (${span})`);
      }
    }
  }
  // A hint cut short says something else ("Only the teacher sees i").
  const measure = document.createElement("canvas").getContext("2d");
  for (const e of document.querySelectorAll("input[placeholder]")) {
    if (e.getClientRects().length === 0 || e.value) continue;
    const s = getComputedStyle(e);
    measure.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    const need = measure.measureText(e.placeholder).width;
    if (need > room + 1) problems.push(`#${e.id}: its hint "${e.placeholder}" is cut off`);
  }
  const badges = [...document.querySelectorAll(".badge")]
    .filter((e) => e.getClientRects().length > 0 && !e.textContent.trim());
  if (badges.length) problems.push(`${badges.length} empty badge(s) shown: ${badges[0].outerHTML}`);
  return problems;
}"""

# The focused element, and whether the focus is visible on it (an outline or a shadow ring).
_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return { id: "", name: "", visible: false };
  const style = getComputedStyle(e);
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
    || (style.boxShadow && style.boxShadow !== "none");
  const label = e.labels && e.labels.length ? e.labels[0].textContent : "";
  const name = (e.getAttribute("aria-label") || label || e.textContent || e.value || "").trim();
  // A date field's calendar button is inside the field: the field is :focus-within then.
  const inside = e.matches(":focus-within") && !e.matches(":focus");
  return { id: e.id, name, visible: (e.matches(":focus-visible") || inside) && ring };
}"""


class Focused(TypedDict):
    id: str
    name: str
    visible: bool


async def person(browser: Browser, node: Node, *, width: int = 1280) -> tuple[BrowserContext, Page]:
    """A new person's context and page (as ``browser.open_page``), able to take axe-core in
    spite of the pages' script policy."""
    height = dict(WIDTHS).get(width, 800)
    context = await browser.new_context(
        base_url=node.http, viewport={"width": width, "height": height}, bypass_csp=True
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    page.on("pageerror", lambda e: print(f"[{width}px pageerror] {e}"))
    return context, page


async def axe_violations(
    page: Page, *, exclude: tuple[str, ...] = (), best_practice: bool = True
) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on the page as it is now, and its best practices'
    unless ``best_practice`` is false, one line per element (``exclude``: rule ids not
    checked)."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run scripts/ensure-node-tools.sh")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE_JS))
    tags = [*WCAG_TAGS, BEST_PRACTICE] if best_practice else WCAG_TAGS
    violations = await page.evaluate(_RUN_AXE, tags)
    return [
        f"{v['id']} ({v['impact']}): {n['target']}: {v['help']}; {n['summary'][:300]}"
        for v in violations
        if v["id"] not in exclude
        for n in v["nodes"]
    ]


async def layout_problems(page: Page, controls: tuple[str, ...]) -> list[str]:
    """Sideways overflow (``scrollingElement.scrollWidth > innerWidth``), each of the
    ``controls`` (CSS selectors, every match counts) missing, invisible or cut off, a visible
    input's placeholder wider than the input, and a badge shown without text."""
    problems: list[str] = await page.evaluate(_LAYOUT, list(controls))
    return problems


async def check_screen(
    page: Page,
    shots: Shots,
    name: str,
    controls: tuple[str, ...] = (),
    *,
    widths: tuple[tuple[int, int], ...] = WIDTHS,
    exclude: tuple[str, ...] = (),
    best_practice: bool = True,
    full_page: bool = True,
) -> list[str]:
    """The screen ``name`` on ``page`` at each of ``widths``: axe-core (:func:`axe_violations`),
    the layout of its ``controls``, and a screenshot ``<n>-<name>-<width>px.png`` (the whole
    page unless ``full_page`` is false). Returns the
    problems, each prefixed with the screen and width; the page gets its size back."""
    problems: list[str] = []
    original = page.viewport_size
    for width, height in widths:
        await page.set_viewport_size({"width": width, "height": height})
        await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(null)))")
        found = await layout_problems(page, controls)
        found += await axe_violations(page, exclude=exclude, best_practice=best_practice)
        problems.extend(f"{name} at {width}px: {p}" for p in found)
        print(*(f"PROBLEM {name} at {width}px: {p}" for p in found), sep="\n")
        await shots.take(page, f"{name}-{width}px", full_page=full_page)
    if original is not None:
        await page.set_viewport_size(original)
    return problems


async def focused(page: Page) -> Focused:
    """The element with the keyboard focus: its id, its accessible-ish name, and whether a
    focus ring shows on it (``:focus-visible`` with an outline of 2 px or more, or a ring)."""
    result: Focused = await page.evaluate(_FOCUSED)
    return result


async def tab_to(page: Page, target: str, *, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab when ``backwards``) at least once, until the element whose id or
    name (its aria-label, else its label's or its own text) is ``target`` has the focus; the
    focus must be visible on every element it passes. Fails when ``target`` is not reached in
    ``limit`` presses."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        await page.keyboard.press(key)
        now = await focused(page)
        if now["id"] or now["name"]:  # on the page, not in the browser's own UI
            assert now["visible"], f"the focus is not visible on {now} (on the way to {target!r})"
        if target in (now["id"], now["name"]):
            return
    pytest.fail(f"{target!r} cannot be reached with {key} (last: {await focused(page)})")
