"""Tiny lxml helpers for reading pages the way a user does (XPath only: no cssselect needed)."""

from __future__ import annotations

import re

import lxml.html
from lxml.html import HtmlElement


def parse(resp_or_text) -> HtmlElement:
    text = resp_or_text if isinstance(resp_or_text, str) else resp_or_text.get_data(as_text=True)
    return lxml.html.fromstring(text)


def text(el: HtmlElement | None) -> str:
    """The element's visible text with whitespace collapsed ('' for None)."""
    if el is None:
        return ""
    return re.sub(r"\s+", " ", el.text_content()).strip()


def by_id(doc: HtmlElement, id_: str) -> HtmlElement | None:
    found = doc.xpath(f'//*[@id="{id_}"]')
    assert len(found) <= 1, f"id {id_!r} is not unique"
    return found[0] if found else None


def _class_test(cls: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')"


def by_class(root: HtmlElement, cls: str, tag: str = "*") -> list[HtmlElement]:
    """Descendants of `root` (or the document) carrying the CSS class `cls`."""
    return root.xpath(f".//{tag}[{_class_test(cls)}]")


def rows(doc: HtmlElement, table_id: str = "activities-table") -> list[HtmlElement]:
    region = by_id(doc, table_id)
    assert region is not None, f"no #{table_id} on the page"
    return region.xpath(".//tbody/tr")


def result_count(doc: HtmlElement) -> str:
    return text(by_id(doc, "result-count"))


def spoken_text(el: HtmlElement | None) -> str:
    """Text without aria-hidden parts (icons): what a screen reader says."""
    if el is None:
        return ""
    parts = el.xpath(".//text()[not(ancestor-or-self::*[@aria-hidden='true'])]")
    return re.sub(r"\s+", " ", "".join(parts)).strip()
