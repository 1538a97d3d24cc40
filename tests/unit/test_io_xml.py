"""Activities XML (spec §11): the XSD, safe parsing, line-numbered errors and the round trip."""

from __future__ import annotations

import io
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from pars_app.domain.codes import (
    IN_KIND_NATURES,
    MOC_BOARDS,
    PASSPORT_REGISTRATION,
    PROVIDERSHIP,
    SUPPORT_KINDS,
)
from pars_app.domain.formats import DELIVERY_LABELS, FORMAT_CODES, LEGACY_FORMAT_CODES
from pars_app.io import (
    XSD_PATH,
    Limits,
    UnreadableFile,
    UnsafeFile,
    read_file,
    write_activities,
    xml_io,
)
from pars_app.io.xml_io import schema, write_activities_xml

from .test_io_fixtures import full_record, stored, typed, without_numbers

MINIMAL = b"""<?xml version="1.0" encoding="UTF-8"?>
<ACCMEActivities>
  <MedicalEducationMetrics>
    <ActivityDescription>
      <Identifier>EM-7</Identifier>
      <Title>Online module</Title>
      <ActivityType>IEM</ActivityType>
      <StartDate>2025-01-01</StartDate>
      <EndDate>2027-12-31</EndDate>
      <DesignedToChangeCompetence>Yes</DesignedToChangeCompetence>
      <ChangesInCompetenceMeasured>No</ChangesInCompetenceMeasured>
    </ActivityDescription>
    <ParticipationMetrics>
      <PhysicianLearners>120</PhysicianLearners>
    </ParticipationMetrics>
  </MedicalEducationMetrics>
  <MedicalEducationMetrics>
    <ActivityDescription>
      <Identifier>RSS-1</Identifier>
      <ActivityType>RSS</ActivityType>
      <StartDate>2025-01-01</StartDate>
      <EndDate>2025-12-31</EndDate>
      <Location><City> Boston </City></Location>
    </ActivityDescription>
  </MedicalEducationMetrics>
</ACCMEActivities>
"""


def _enumeration(name: str) -> list[str]:
    tree = etree.parse(str(XSD_PATH))
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    return tree.xpath(f"//xs:simpleType[@name='{name}']//xs:enumeration/@value", namespaces=ns)


# --- The schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("simple_type", "expected"),
    [
        ("ActivityType", [*FORMAT_CODES, *LEGACY_FORMAT_CODES]),
        ("DeliveryMethod", list(DELIVERY_LABELS)),
        ("Sponsorship", list(PROVIDERSHIP)),
        ("SupportType", list(SUPPORT_KINDS)),
        ("InKindNature", list(IN_KIND_NATURES)),
        ("Registration", list(PASSPORT_REGISTRATION)),
        ("Board", list(MOC_BOARDS)),
    ],
)
def test_xsd_code_lists_match_the_domain(simple_type, expected):
    assert _enumeration(simple_type) == expected


def test_the_xsd_uses_the_mems_names_the_spec_gives():
    text = XSD_PATH.read_text()
    for name in (
        "ACCMEActivities",
        "MedicalEducationMetrics",
        "ActivityDescription",
        "ParticipationMetrics",
        "XtensibleInfo",
        "DesignedToChangeCompetence",
        "ChangesInCompetenceMeasured",
    ):
        assert f'name="{name}"' in text


# --- Reading --------------------------------------------------------------------------------------


def test_minimal_document_reads_with_element_line_numbers():
    result = read_file("a.xml", MINIMAL)
    assert result.kind == "xml"
    assert result.total_hint == 2
    first, second = result.rows
    assert first.number == 3 and second.number == 17
    assert first.values == {
        "provider_activity_id": "EM-7",
        "title": "Online module",
        "format": "EM",
        "delivery": "internet",  # implied by the legacy IEM code
        "start_date": "2025-01-01",
        "end_date": "2027-12-31",
        "physician_learners": "120",
        "outcome_competence": "Yes",  # designed to change counts as measured
    }
    assert second.values["city"] == "Boston"
    assert "venue" not in second.values and "supporters" not in second.values


def test_xml_labels_name_the_elements():
    result = read_file("a.xml", MINIMAL)
    assert result.column_label("start_date") == "ActivityDescription/StartDate"
    assert result.column_label("supporters.2.amount") == "CommercialSupporter 2"


def test_an_xml_file_is_recognised_without_its_extension():
    assert read_file("upload", MINIMAL).kind == "xml"


def test_schema_errors_are_reported_with_their_line_numbers():
    bad = MINIMAL.replace(
        b"<StartDate>2025-01-01</StartDate>\n      <EndDate>2027",
        (b"<StartDate>01/01/2025</StartDate>\n      <EndDate>2027"),
    ).replace(b"<City> Boston </City>", b"<Town>Boston</Town>")
    with pytest.raises(UnreadableFile) as err:
        read_file("a.xml", bad)
    lines = [e.line for e in err.value.errors]
    assert lines == [8, 23]
    assert "01/01/2025" in err.value.errors[0].message
    assert "Town" in err.value.errors[1].message
    assert "line 8:" in err.value.message and "/schema/activities.xsd" in err.value.message


def test_many_schema_errors_are_capped():
    body = b"".join(
        b"<MedicalEducationMetrics><ActivityDescription><ActivityType>XX</ActivityType>"
        b"<StartDate>2025-01-01</StartDate><EndDate>2025-01-01</EndDate>"
        b"</ActivityDescription></MedicalEducationMetrics>\n"
        for _ in range(30)
    )
    with pytest.raises(UnreadableFile) as err:
        read_file("a.xml", b"<ACCMEActivities>\n" + body + b"</ACCMEActivities>")
    assert len(err.value.errors) == 20
    assert "and 10 more" in err.value.message


def test_malformed_xml_is_refused_with_its_line():
    with pytest.raises(UnreadableFile, match=r"malformed at line 4") as err:
        read_file("a.xml", b"<ACCMEActivities>\n<MedicalEducationMetrics>\n\n</Oops>\n")
    assert err.value.errors[0].line == 4


def test_an_unknown_root_is_refused():
    with pytest.raises(UnreadableFile, match="root element is <Activities>"):
        read_file("a.xml", b"<Activities/>")


def test_too_many_activities_are_refused():
    body = b"".join(
        b"<MedicalEducationMetrics><ActivityDescription><ActivityType>C</ActivityType>"
        b"<StartDate>2025-01-01</StartDate><EndDate>2025-01-01</EndDate>"
        b"</ActivityDescription></MedicalEducationMetrics>"
        for _ in range(6)
    )
    with pytest.raises(UnsafeFile, match=r"6 entries.*at most 5"):
        data = b"<ACCMEActivities>" + body + b"</ACCMEActivities>"
        read_file("a.xml", data, Limits(max_rows=5))


def test_learner_counts_xml():
    data = b"""<ACCMELearnerCounts>
      <LearnerCount><Identifier>EM-1</Identifier><PhysicianLearners>300</PhysicianLearners>
        <OtherLearners>12</OtherLearners><AsOfYear>2025</AsOfYear></LearnerCount>
      <LearnerCount><Identifier>RSS-2</Identifier><PhysicianLearners>0</PhysicianLearners>
        </LearnerCount>
    </ACCMELearnerCounts>"""
    result = read_file("counts.xml", data)
    assert result.kind == "counts"
    assert [(r.number, r.values) for r in result.rows] == [
        (
            2,
            {
                "provider_activity_id": "EM-1",
                "physician_learners": "300",
                "other_learners": "12",
                "counts_year": "2025",
            },
        ),
        (4, {"provider_activity_id": "RSS-2", "physician_learners": "0"}),
    ]


# --- Hostile XML ----------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ACCMEActivities><MedicalEducationMetrics><ActivityDescription>
<Title>&lol9;</Title><ActivityType>C</ActivityType>
<StartDate>2025-01-01</StartDate><EndDate>2025-01-01</EndDate>
</ActivityDescription></MedicalEducationMetrics></ACCMEActivities>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ACCMEActivities><MedicalEducationMetrics><ActivityDescription>
<Title>&secret;</Title><ActivityType>C</ActivityType>
<StartDate>2025-01-01</StartDate><EndDate>2025-01-01</EndDate>
</ActivityDescription></MedicalEducationMetrics></ACCMEActivities>
"""

PARAMETER_XXE = b"""<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<ACCMEActivities/>
"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE ACCMEActivities SYSTEM "activities.dtd">
<ACCMEActivities/>
"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        XXE,
        PARAMETER_XXE,
        PLAIN_DOCTYPE,
        BILLION_LAUGHS.decode().replace('<?xml version="1.0"?>', "").encode("utf-16"),
        XXE.decode().replace('<?xml version="1.0"?>', "").encode("utf-16"),
        b"<!-- " + b"x" * 70_000 + b" -->\n" + XXE.split(b"\n", 1)[1],
        # UTF-32 hides the markup from the byte search: the parser's own record catches it.
        XXE.decode().replace('<?xml version="1.0"?>', "").encode("utf-32"),
        BILLION_LAUGHS.decode().replace('<?xml version="1.0"?>', "").encode("utf-32"),
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "parameter-xxe",
        "doctype",
        "utf16-laughs",
        "utf16-xxe",
        "late",
        "utf32-xxe",
        "utf32-laughs",
    ],
)
def test_doctypes_and_entities_are_refused_before_anything_expands(data):
    started = time.perf_counter()
    with pytest.raises(UnsafeFile, match="DOCTYPE") as err:
        read_file("evil.xml", data)
    assert "root:" not in err.value.message
    assert time.perf_counter() - started < 5  # refused, not expanded (a generous bound)


def test_an_undeclared_entity_is_simply_malformed():
    with pytest.raises(UnreadableFile, match="malformed"):
        read_file("a.xml", b"<ACCMEActivities><x>&secret;</x></ACCMEActivities>")


def test_xinclude_is_not_processed():
    data = (
        b'<ACCMEActivities xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></ACCMEActivities>'
    )
    with pytest.raises(UnreadableFile) as err:
        read_file("a.xml", data)
    assert "root:" not in err.value.message


# --- Writing --------------------------------------------------------------------------------------


def test_export_validates_against_the_xsd_and_round_trips_every_field():
    records = [full_record(1), full_record(2)]
    records[1].update(providership="direct", joint_providers=[], supporters=[], moc=[])
    data = write_activities_xml(records)
    assert schema().validate(etree.fromstring(data))
    rows = list(read_file("export.xml", data).rows)
    assert [typed(without_numbers(r.values)) for r in rows] == [stored(r) for r in records]


def test_export_of_a_bare_activity_is_valid():
    record = {
        "title": "Bare",
        "format": "JN",
        "start_date": full_record()["start_date"],
        "end_date": full_record()["end_date"],
        "outcome_competence": False,
    }
    data = write_activities_xml([record])
    assert b"<Location" not in data and b"<XtensibleInfo" not in data
    (row,) = read_file("x.xml", data).rows
    assert row.values["outcome_competence"] == "No"


def test_export_refuses_to_write_what_the_schema_would_refuse():
    record = dict(full_record(), format="Course")  # a label, not a code: a caller's bug
    with pytest.raises(ValueError, match=r"activities\.xsd"):
        write_activities_xml([record])


def _whole_tree(records: list[dict]) -> bytes:
    """What the writer gave before it streamed: one tree, validated, then serialised."""
    from pars_app.io.xml_io import ACTIVITIES_ROOT, _metrics

    root = etree.Element(ACTIVITIES_ROOT)
    for record in records:
        root.append(_metrics(record))
    assert schema().validate(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_export_written_in_batches_gives_the_whole_trees_bytes(monkeypatch, n):
    from pars_app.io import xml_io

    monkeypatch.setattr(xml_io, "WRITE_BATCH", 2)
    records = [full_record(i) for i in range(1, n + 1)]
    assert write_activities_xml(records) == _whole_tree(records)


def test_a_bad_activity_in_a_later_batch_still_refuses_the_export(monkeypatch):
    from pars_app.io import xml_io

    monkeypatch.setattr(xml_io, "WRITE_BATCH", 2)
    records = [full_record(i) for i in range(1, 6)]
    records[4] = dict(records[4], format="Course")
    with pytest.raises(ValueError, match=r"activities\.xsd"):
        write_activities_xml(records)


def test_export_drops_characters_xml_cannot_hold():
    record = dict(full_record(), title="Bell\x07 and\x0b tab")
    (row,) = read_file("x.xml", write_activities_xml([record])).rows
    assert row.values["title"] == "Bell and tab"


# --- One pass over each activity gives what find() per field gave ------------------------------


def _by_find(metrics: etree._Element) -> dict:
    """The reference reading: each value looked up by its path (the reader before the single
    pass), kept here to prove the single pass finds the same elements."""
    from pars_app.io.fields import imply_delivery
    from pars_app.io.xml_io import _OUTCOMES, _SCALARS, _SUPPORTER_FIELDS

    def text(node):
        return None if node is None or node.text is None else node.text.strip() or None

    values = {
        key: text(metrics.find(path)) for key, path in _SCALARS if metrics.find(path) is not None
    }
    desc = metrics.find("ActivityDescription")
    for key, names in _OUTCOMES.items():
        answers = [text(desc.find(n)) for n in names if desc.find(n) is not None]
        answers = [a for a in answers if a is not None]
        if answers:
            values[key] = "Yes" if any(a in ("Yes", "true") for a in answers) else "No"
    names = [t for n in metrics.iterfind("ActivityDescription/JointProvider") if (t := text(n))]
    if names:
        values["joint_providers"] = names
    supporters = [
        {"number": i, **{key: text(node.find(tag)) for key, tag in _SUPPORTER_FIELDS}}
        for i, node in enumerate(metrics.iterfind("ActivityDescription/CommercialSupporter"), 1)
    ]
    if supporters:
        values["supporters"] = supporters
    moc = [
        {
            "number": i,
            "board": text(node.find("Board")),
            "credit_types": [t for c in node.iterfind("CreditType") if (t := text(c))],
            "points": text(node.find("Points")),
            "practice_areas": [t for c in node.iterfind("PracticeArea") if (t := text(c))],
        }
        for i, node in enumerate(metrics.iterfind("XtensibleInfo/MOCRegistration"), 1)
    ]
    if moc:
        values["moc"] = moc
    imply_delivery(values)
    return values


def _same_as_find(data: bytes) -> None:
    rows = list(read_file("a.xml", data).rows)
    root = etree.fromstring(data)
    expected = [_by_find(m) for m in root.iterfind("MedicalEducationMetrics")]
    assert [r.values for r in rows] == expected
    assert [list(r.values) for r in rows] == [list(v) for v in expected]  # the same key order
    assert [r.number for r in rows] == [m.sourceline for m in root]


REQUIRED_IN_XML = {"format", "start_date", "end_date"}


@settings(max_examples=60, deadline=None)
@given(
    drop=st.sets(st.sampled_from(sorted(set(full_record()) - REQUIRED_IN_XML)), max_size=12),
    blanks=st.sets(st.sampled_from(["title", "venue", "description", "passport_url"])),
    n=st.integers(1, 3),
)
def test_the_single_pass_reads_what_find_per_field_read(drop, blanks, n):
    records = []
    for i in range(1, n + 1):
        record = {k: v for k, v in full_record(i).items() if k not in drop}
        record.update(dict.fromkeys(blanks, " "))
        records.append(record)
    _same_as_find(write_activities_xml(records))


def test_the_single_pass_reads_flags_blanks_and_repeats_as_find_did():
    doc = MINIMAL.replace(
        b"<ChangesInCompetenceMeasured>No</ChangesInCompetenceMeasured>",
        b"<ChangesInCompetenceMeasured>No</ChangesInCompetenceMeasured>"
        b"<ChangesInCommunityHealthMeasured>true</ChangesInCommunityHealthMeasured>",
    ).replace(b"<Title>Online module</Title>", b"<Title>  </Title>")
    _same_as_find(doc)
    _same_as_find(write_activities_xml([full_record(1), {**full_record(2), "moc": []}]))


def test_row_numbers_past_line_65535_are_the_lines_the_file_shows():
    # libxml2 keeps an element's line in 16 bits; past that lxml's sourceline was a line late
    # for an indented file, and the row number is the line a user is sent to.
    data = write_activities_xml([full_record(i) for i in range(1, 1_301)])
    lines = data.split(b"\n")
    starts = [n for n, line in enumerate(lines, 1) if line.strip() == b"<MedicalEducationMetrics>"]
    assert len(starts) == 1_300 and starts[-1] > 65_535
    assert [r.number for r in read_file("a.xml", data).rows] == starts
    # The tag's text in a comment: the tags no longer match the elements one to one, and the
    # parser's lines are used (every row still read).
    commented = data.replace(
        b"<ACCMEActivities>", b"<ACCMEActivities><!-- <MedicalEducationMetrics> -->", 1
    )
    rows = list(read_file("a.xml", commented).rows)
    assert len(rows) == 1_300 and rows[0].number == starts[0]


# --- A stored upload is searched a megabyte at a time ------------------------------------------
#
# The reader parses a stored upload where it lies and searches its bytes in chunks (`_views`):
# a DOCTYPE or a start tag cut by a chunk's end must be found as in the whole file.

_PIECES = [b"<", b"!", b" ", b"\n", b"DOCTYPE", b"ENTITY", b"DOCTY", b"x", b"<Item>", b"<Item/"]
_PIECES += [b"<It", b"em ", b"<Items>"]


def _cut(text: bytes, sizes: list[int]) -> list[bytes]:
    chunks, at = [], 0
    for size in sizes:
        chunks.append(text[at : at + size])
        at += size
    return [*chunks, text[at:]]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40), st.lists(st.integers(1, 12), max_size=30))
def test_the_byte_searches_find_the_same_across_any_chunk_boundaries(pieces, sizes):
    text = b"".join(pieces)
    chunks = _cut(text, sizes)
    assert xml_io._has_doctype(chunks) == bool(xml_io._DOCTYPE.search(text))
    whole = [text.count(b"\n", 0, m.start()) + 1 for m in re.finditer(rb"<Item[\s>/]", text)]
    assert xml_io._start_lines(chunks, "Item", len(whole)) == whole
    assert xml_io._start_lines(chunks, "Item", len(whole) + 1) is None


def test_a_doctype_cut_by_the_first_megabyte_is_refused():
    head = b'<?xml version="1.0"?>\n<!-- '
    tail = b" -->\n" + PLAIN_DOCTYPE.split(b"\n", 1)[1]
    data = head + b"x" * (xml_io._CHUNK - 3 - len(head) - 5) + tail
    chunks = list(xml_io._views(io.BytesIO(data))())
    assert len(chunks) == 2 and not any(xml_io._DOCTYPE.search(c) for c in chunks)
    assert xml_io._has_doctype(chunks)
    with pytest.raises(UnsafeFile, match="DOCTYPE"):
        read_file("a.xml", data)


class _Stored:
    """A stored upload as sqlite3.Blob offers it: read, seek, tell (not an io.BytesIO)."""

    def __init__(self, data: bytes) -> None:
        self._file = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, origin: int = 0, /) -> None:
        self._file.seek(offset, origin)

    def tell(self) -> int:
        return self._file.tell()


@pytest.mark.parametrize("name", ["a.xml", "a.xlsx", "a.txt"])
def test_a_stored_upload_reads_as_its_bytes_do(name, monkeypatch):
    monkeypatch.setattr(xml_io, "_CHUNK", 4096)  # many chunks, none on a line's end
    records = [full_record(i) for i in range(1, 40)]
    if name == "a.xml":
        data = write_activities_xml(records)
    elif name == "a.xlsx":
        data = write_activities(records)
    else:
        data = (
            b"Activity Title\tFormat\tStart Date\tEnd Date\nRounds\tRSS\t2025-01-05\t2025-12-01\n"
        )

    def rows(source):
        return [(r.number, r.values, r.problems) for r in read_file(name, source).rows]

    assert rows(_Stored(data)) == rows(data) and rows(data)
    for refused in (b"", b" \n\t "):
        with pytest.raises(UnreadableFile, match="The file is empty"):
            read_file(name, _Stored(refused))
