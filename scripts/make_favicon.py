"""Rebuilds webhooks/static/favicon.ico from favicon.svg: renders the SVG at 16, 32 and 48 px with
Debian's chromium (Playwright) and packs the PNGs into one .ico. From the repository root:

    .venv/bin/python scripts/make_favicon.py
"""
from __future__ import annotations

import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

STATIC = Path(__file__).resolve().parents[1] / "webhooks" / "static"
SIZES = (16, 32, 48)


def render(svg: str) -> list[tuple[int, bytes]]:
    pngs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        for size in SIZES:
            page = browser.new_page(viewport={"width": size, "height": size})
            page.set_content('<body style="margin:0;background:transparent">'
                             + svg.replace("<svg ", f'<svg width="{size}" height="{size}" style="display:block" ', 1)
                             + "</body>")
            pngs.append((size, page.screenshot(omit_background=True)))
            page.close()
        browser.close()
    return pngs


def pack(pngs: list[tuple[int, bytes]]) -> bytes:
    """An ICO whose images are PNGs (every browser since IE Vista reads them)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, data = b"", b""
    for size, png in pngs:
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset + len(data))
        data += png
    return header + entries + data


if __name__ == "__main__":
    (STATIC / "favicon.ico").write_bytes(pack(render((STATIC / "favicon.svg").read_text())))
