"""Builders shared by the tests/unit/test_io_*.py files, and checks that they build what we mean.

Every file a test reads is built here or in the test (openpyxl, lxml, zipfile, plain text):
no binary fixtures are committed.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date
from decimal import Decimal

from openpyxl import Workbook, load_workbook

from pars_app.domain.values import (
    parse_count,
    parse_credits,
    parse_date,
    parse_money_cents,
    parse_yes_no,
)
from pars_app.io import choice_key

YES_NO_KEYS = {
    "passport_listed",
    "passport_fee",
    "commercial_support",
    "outcome_competence",
    "outcome_performance",
    "outcome_patient_health",
    "outcome_community_health",
    "close",
}
DATE_KEYS = {"start_date", "end_date"}
COUNT_KEYS = {"physician_learners", "other_learners", "counts_year"}
CHOICE_KEYS = {"format", "delivery", "country", "state", "providership", "passport_registration"}


def xlsx_bytes(rows: list[list[object]], title: str = "Activities") -> bytes:
    """A one-sheet workbook with these rows from A1."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rezip(data: bytes, replace: dict[str, bytes] | None = None, add: dict | None = None) -> bytes:
    """The same zip with some members replaced or added (deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            body = (replace or {}).get(info.filename, zin.read(info.filename))
            zout.writestr(info.filename, body, zipfile.ZIP_DEFLATED)
        for name, body in (add or {}).items():
            zout.writestr(name, body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def full_record(i: int = 1) -> dict[str, object]:
    """An activity with every importable field filled, typed as stored."""
    return {
        "provider_activity_id": f"2025-{i:04d}",
        "accme_activity_id": 900_000_000_000_000_000 + i,
        "title": f"Cardiology grand rounds {i}",
        "format": "C",
        "delivery": "hybrid",
        "start_date": date(2025, 3, 1),
        "end_date": date(2025, 3, 2),
        "venue": "Main auditorium",
        "city": "Chicago",
        "state": "IL",
        "country": "USA",
        "credits": Decimal("12.25"),
        "description": "Heart failure: new guidelines.\nSecond line.",
        "providership": "joint",
        "joint_providers": ["Lakeside Heart Society", "North Clinic"],
        "passport_listed": True,
        "passport_fee": False,
        "passport_registration": "limited",
        "passport_url": "https://example.org/cardio",
        "commercial_support": True,
        "supporters": [
            {"name": "Acme Pharma", "kind": "monetary", "amount_cents": 1_250_055},
            {"name": "Scope Co", "kind": "in_kind", "nature": "durable_equipment"},
            {"name": "Lab Inc", "kind": "in_kind", "nature": "other", "other": "Cadavers"},
        ],
        "outcome_competence": True,
        "outcome_performance": False,
        "outcome_patient_health": True,
        "outcome_community_health": False,
        "physician_learners": 1040,
        "other_learners": 0,
        "moc": [
            {
                "board": "ABIM",
                "credit_types": ["Medical Knowledge", "Practice Assessment"],
                "points": Decimal("10.50"),
                "practice_areas": ["Cardiology", "Internal Medicine"],
            },
            {"board": "ABP", "credit_types": ["Lifelong Learning"], "points": Decimal("10")},
        ],
        "close": True,
    }


def _supporter(raw: dict) -> dict:
    return {
        "name": raw.get("name"),
        "kind": choice_key("kind", raw.get("kind")),
        "amount_cents": parse_money_cents(raw.get("amount")),
        "nature": choice_key("nature", raw.get("nature")),
        "other": raw.get("other"),
    }


def _moc(raw: dict) -> dict:
    return {
        "board": choice_key("board", raw.get("board")),
        "credit_types": raw.get("credit_types") or [],
        "points": parse_credits(raw.get("points")),
        "practice_areas": raw.get("practice_areas") or [],
    }


def _typed_value(key: str, raw: object) -> object:
    if key in YES_NO_KEYS:
        return parse_yes_no(raw)
    if key in DATE_KEYS:
        return parse_date(raw)
    if key in COUNT_KEYS:
        return parse_count(raw)
    if key in CHOICE_KEYS:
        return choice_key(key, raw)
    if key == "credits":
        return parse_credits(raw)
    if key == "accme_activity_id":
        return int(raw) if raw is not None else None
    return raw


def typed(values: dict[str, object]) -> dict[str, object]:
    """RawRow values parsed the way the import will, blanks dropped, for comparisons."""
    out: dict[str, object] = {}
    for key, raw in values.items():
        if key == "supporters":
            value: object = [_supporter(s) for s in raw]  # type: ignore[attr-defined]
        elif key == "moc":
            value = [_moc(m) for m in raw]  # type: ignore[attr-defined]
        else:
            value = _typed_value(key, raw)
        if value not in (None, []):
            out[key] = value
    return out


def stored(record: dict[str, object]) -> dict[str, object]:
    """A record in the shape `typed` gives, for comparing exports with what was read back."""
    out = {
        k: v for k, v in record.items() if v not in (None, []) and k not in ("supporters", "moc")
    }
    out["supporters"] = [
        {
            "name": s["name"],
            "kind": s["kind"],
            "amount_cents": s.get("amount_cents"),
            "nature": s.get("nature"),
            "other": s.get("other"),
        }
        for s in record.get("supporters", [])  # type: ignore[union-attr]
    ]
    out["moc"] = [
        {
            "board": m["board"],
            "credit_types": m.get("credit_types") or [],
            "points": parse_credits(m.get("points")),
            "practice_areas": m.get("practice_areas") or [],
        }
        for m in record.get("moc", [])  # type: ignore[union-attr]
    ]
    return {k: v for k, v in out.items() if v != []}


def without_numbers(values: dict[str, object]) -> dict[str, object]:
    """Values with the group `number` bookkeeping removed."""
    out = dict(values)
    for group in ("supporters", "moc"):
        if group in out:
            out[group] = [
                {k: v for k, v in item.items() if k != "number"}
                for item in out[group]  # type: ignore[union-attr]
            ]
    return out


# --- The builders build what the tests think they do ------------------------------------------


def test_xlsx_bytes_builds_a_workbook_with_the_rows():
    wb = load_workbook(io.BytesIO(xlsx_bytes([["a", 1], [None, "b"]], title="Sheet X")))
    assert wb.sheetnames == ["Sheet X"]
    assert [[c.value for c in row] for row in wb.active.iter_rows()] == [["a", 1], [None, "b"]]


def test_rezip_replaces_and_adds_members():
    data = rezip(xlsx_bytes([["a"]]), replace={"xl/styles.xml": b"<x/>"}, add={"extra": b"1"})
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.read("xl/styles.xml") == b"<x/>"
        assert z.read("extra") == b"1"


def test_stored_and_typed_agree_on_a_record_typed_by_hand():
    record = full_record()
    hand = dict(record, supporters=[], moc=[])
    assert typed({k: v for k, v in hand.items() if k not in ("supporters", "moc")}) == {
        k: v for k, v in stored(hand).items()
    }
