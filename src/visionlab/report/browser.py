"""Open a report in headless Chromium (Playwright, the system's browser) and check what a reader sees."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def find_chromium() -> str | None:
    """The system's Chromium executable, if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def inspect_report(html: Path, screenshot: Path | None = None, width: int = 1280) -> dict[str, Any]:
    """Load `html` from disk; return the images, broken images, console errors and section ids it shows.

    Args:
        html: the report file.
        screenshot: where to save a full-page PNG (optional).
        width: the browser window's width in pixels.
    """
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError("no Chromium found (install the Debian packages chromium and chromium-driver)")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(Path(html).resolve().as_uri(), wait_until="load")
        images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
        sections = page.evaluate("Array.from(document.querySelectorAll('section[id]')).map(s => s.id)")
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return {
        "images": len(images),
        "broken": [alt for alt, done, w in images if not done or w == 0],
        "console_errors": errors,
        "sections": sections,
    }
