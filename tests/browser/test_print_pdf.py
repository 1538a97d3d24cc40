"""The printable checklist as Chromium prints it: exactly one US Letter page that names the
provider, the year and the deadline, with no navigation on it.

No PDF library is installed (none is needed by the app), so the few lines below read Chromium's
PDF themselves: pages are counted from the page objects, and text is decoded through each font's
ToUnicode map (Skia writes two-byte glyph codes in hex strings)."""

from __future__ import annotations

import re
import zlib

import pytest

from pars_app.web.filters import central

from .conftest import sign_in

OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)\s*endobj", re.S)
HEX = rb"<([0-9A-Fa-f]+)>"


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number → (dictionary, decoded stream or None)."""
    out = {}
    for m in OBJECT.finditer(pdf):
        head, _, rest = m.group(2).partition(b"stream")
        data = None
        if rest:
            data = rest.lstrip(b"\r\n")
            data = data[: data.rfind(b"endstream")].rstrip(b"\r\n")
            if b"/FlateDecode" in head:
                data = zlib.decompress(data)
        out[int(m.group(1))] = (head, data)
    return out


def _to_unicode(cmap: bytes) -> dict[int, str]:
    found: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(HEX + rb"\s*" + HEX, block):
            found[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(HEX + rb"\s*" + HEX + rb"\s*" + HEX, block):
            first = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                found[code] = chr(first + i)
    return found


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the pages, whitespace collapsed (a space between text objects)."""
    objects = _objects(pdf)
    maps = {}
    for number, (head, _) in objects.items():
        if ref := re.search(rb"/ToUnicode (\d+) 0 R", head):
            maps[number] = _to_unicode(objects[int(ref.group(1))][1] or b"")
    fonts: dict[bytes, dict[int, str]] = {}
    for head, _ in objects.values():
        for block in re.findall(rb"/Font\s*<<(.*?)>>", head, re.S):
            for name, number in re.findall(rb"/([\w.+-]+)\s+(\d+) 0 R", block):
                fonts[name] = maps.get(int(number), {})
    parts: list[str] = []
    for _, data in objects.values():
        if not data or b"BT" not in data:
            continue
        glyphs: dict[int, str] = {}
        for tok in re.finditer(rb"/([\w.+-]+)\s+[\d.]+\s+Tf|" + HEX + rb"|\bET\b", data):
            if tok.group(1):
                glyphs = fonts.get(tok.group(1), {})
            elif tok.group(2):
                h = tok.group(2).decode()
                parts.append(
                    "".join(glyphs.get(int(h[i : i + 4], 16), "?") for i in range(0, len(h), 4))
                )
            else:
                parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


@pytest.mark.parametrize(
    ("email", "code", "year"),
    [
        ("demo@example.org", "DEMO", None),  # the year the dashboard opens on
        # WEST's 2025 is late with every format listed: the longest checklist of the demo.
        ("west@example.org", "WEST", 2025),
    ],
)
def test_printable_checklist_is_one_letter_page_naming_the_deadline(page, live, email, code, year):
    year, expected = live.checklist(code, year)
    sign_in(page, email)
    page.goto(f"/checklist/{year}/print")
    pdf = page.pdf(format="Letter")

    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 1
    # US Letter is 612 by 792 points.
    assert re.search(rb"/MediaBox \[0 0 612 792\]", pdf)
    words = pdf_text(pdf)
    assert f"Deadline: {central(expected.deadline)}" in words
    assert f"PARS annual reporting {year}" in words
    assert f"{expected.done_count} of 5 steps done" in words
    for step in expected.steps:
        assert step.title in words
    # Paper only: no navigation, no buttons.
    assert "Back to the dashboard" not in words
    assert "Log out" not in words
