"""Write a realistic Banner IMS Enterprise 1.1 feed, deterministically, for the parser
benchmark (and for trying imports by hand).

One <enterprise> with <properties>, then the terms, the courses, the sections (CRN.TERM ids,
DEPT-NUM-SEC long descriptions, relationships to their term and course), a few cross-listed
sections, the persons (Logon ID, SCTID and Email ID userids, names with some accents,
emails), then one <membership> per section with its members (roletype mostly 01, an 02 per
section, some 08 and 03) and one per cross-list (idtype 2 members). Banner's habits are kept:
`attribute = "value"` with spaces, two-space indentation. The file is written as it is
generated; it is never held in memory. The defaults make about 200 MB.

    .venv/bin/python bench/gen_banner_feed.py --out /tmp/feed.xml
    .venv/bin/python bench/gen_banner_feed.py --persons 1000 --sections 50 \\
        --memberships 5000 --seed 2 --no-newlines --out /tmp/small.xml
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape

SOURCE = "Sungard Higher Education"
TERMS = (("201710", "Spring 2017", "2017-01-09", "2017-05-05"),
         ("201720", "Summer 2017", "2017-05-22", "2017-08-04"),
         ("201740", "Fall 2017", "2017-08-28", "2017-12-15"))  # fmt: skip
DEPARTMENTS = (("ENG", "English"), ("MATH", "Mathematics"), ("HIST", "History"),
               ("BIOL", "Biology"), ("CHEM", "Chemistry"), ("PHYS", "Physics"),
               ("PSYC", "Psychology"), ("ECON", "Economics"), ("ART", "Art &amp; Design"),
               ("MUS", "Music"), ("SPAN", "Spanish"), ("CS", "Computer Science"),
               ("PHIL", "Philosophy"), ("SOC", "Sociology"), ("NURS", "Nursing"))  # fmt: skip
TOPICS = ("Introduction to", "Topics in", "Seminar in", "Advanced", "Foundations of",
          "Methods in", "Readings in", "Studio:")  # fmt: skip
GIVEN = ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
         "William", "Elizabeth", "David", "Barbara", "José", "María", "Zoë", "Renée",
         "Søren", "Chloé", "Björn", "Ngọc", "Aisha", "Wei", "Priya", "Mohammed", "Ana")  # fmt: skip
FAMILY = ("Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis",
          "Rodríguez", "Martínez", "Hernández", "López", "González", "Wilson", "Anderson",
          "O'Brien", "Nguyễn", "Müller", "Kowalski", "Østergaard", "Dubois", "Khan",
          "Patel", "Kim", "Andersson")  # fmt: skip
MIDDLE = ("A", "B", "C", "D", "E", "J", "K", "L", "M", "R", "S", "T")
ROLES = ("Student", "Student", "Student", "Student", "Student", "Faculty", "Staff")


class Writer:
    """Buffered, indented writing; one line per element unless newlines are off."""

    def __init__(self, out: TextIO, *, newlines: bool) -> None:
        self.out = out
        self.newlines = newlines
        self.parts: list[str] = []

    def line(self, depth: int, text: str) -> None:
        if self.newlines:
            self.parts.append("  " * depth + text + "\n")
        else:
            self.parts.append(text)
        if len(self.parts) >= 20_000:
            self.flush()

    def flush(self) -> None:
        chunk = "".join(self.parts)
        self.out.write(chunk)
        self.parts = []

    def sourcedid(self, depth: int, ident: str) -> None:
        self.line(depth, "<sourcedid>")
        self.line(depth + 1, f"<source>{SOURCE}</source>")
        self.line(depth + 1, f"<id>{ident}</id>")
        self.line(depth, "</sourcedid>")


def course_code(section: int) -> tuple[str, str, str]:
    """(department, number, department title) of a section's course: sections come in groups
    of about three per course."""
    course = section // 3
    dept, title = DEPARTMENTS[course % len(DEPARTMENTS)]
    return dept, str(100 + (course // len(DEPARTMENTS)) % 400), title


def section_id(section: int) -> str:
    term = TERMS[section % len(TERMS)][0]
    return f"{10000 + section}.{term}"


def write_group(
    w: Writer,
    ident: str,
    typevalue: str,
    *,
    short: str,
    long: str,
    full: str,
    orgunit: str = "",
    begin: str = "",
    end: str = "",
    relations: tuple[tuple[str, str], ...] = (),
) -> None:
    w.line(1, '<group recstatus = "1">')
    w.sourcedid(2, ident)
    w.line(2, "<grouptype>")
    w.line(3, "<scheme>Luminis</scheme>")
    w.line(3, f'<typevalue level = "1">{typevalue}</typevalue>')
    w.line(2, "</grouptype>")
    w.line(2, "<description>")
    w.line(3, f"<short>{short}</short>")
    w.line(3, f"<long>{long}</long>")
    w.line(3, f"<full>{full}</full>")
    w.line(2, "</description>")
    if orgunit:
        w.line(2, "<org>")
        w.line(3, "<orgname>Example University</orgname>")
        w.line(3, f"<orgunit>{orgunit}</orgunit>")
        w.line(2, "</org>")
    if begin:
        w.line(2, "<timeframe>")
        w.line(3, f'<begin restrict = "0">{begin}</begin>')
        w.line(3, f'<end restrict = "1">{end}</end>')
        w.line(2, "</timeframe>")
    w.line(2, "<enrollcontrol>")
    w.line(3, "<enrollaccept>1</enrollaccept>")
    w.line(3, "<enrollallowed>0</enrollallowed>")
    w.line(2, "</enrollcontrol>")
    for label, related in relations:
        w.line(2, '<relationship relation = "1">')
        w.sourcedid(3, related)
        w.line(3, f"<label>{label}</label>")
        w.line(2, "</relationship>")
    w.line(1, "</group>")


def write_person(w: Writer, rng: random.Random, index: int) -> None:
    given = rng.choice(GIVEN)
    family = rng.choice(FAMILY)
    sctid = f"@{index + 10_000_000:08d}"
    logon = f"{given[0]}{family}{index}".lower().replace("'", "")
    logon = logon.encode("ascii", "ignore").decode()
    email = f"{logon}@example.edu"
    w.line(1, '<person recstatus = "1">')
    w.sourcedid(2, sctid)
    w.line(2, f'<userid useridtype = "Logon ID">{logon}</userid>')
    w.line(2, f'<userid useridtype = "SCTID">{sctid}</userid>')
    w.line(2, f'<userid useridtype = "Email ID">{email}</userid>')
    w.line(2, "<name>")
    w.line(3, f"<fn>{escape(given)} {escape(family)}</fn>")
    if rng.random() < 0.1:
        w.line(3, f"<nickname>{escape(given[:3])}</nickname>")
    w.line(3, "<n>")
    w.line(4, f"<family>{escape(family)}</family>")
    w.line(4, f"<given>{escape(given)}</given>")
    if rng.random() < 0.6:
        w.line(4, f'<partname partnametype = "MiddleName">{rng.choice(MIDDLE)}</partname>')
    w.line(3, "</n>")
    w.line(2, "</name>")
    w.line(2, "<demographics>")
    w.line(3, f"<gender>{rng.choice('12')}</gender>")
    w.line(2, "</demographics>")
    w.line(2, f"<email>{email}</email>")
    w.line(2, f'<tel teltype = "1">555-{rng.randrange(10_000):04d}</tel>')
    w.line(2, f'<institutionrole primaryrole = "No" institutionroletype = "{rng.choice(ROLES)}"/>')
    w.line(2, "<extension>")
    w.line(3, "<luminisperson>")
    w.line(4, f"<academic_major>{rng.choice(DEPARTMENTS)[1]}</academic_major>")
    w.line(4, f"<customrole>{rng.choice(ROLES)}</customrole>")
    w.line(3, "</luminisperson>")
    w.line(2, "</extension>")
    w.line(1, "</person>")


def write_member(w: Writer, ident: str, idtype: int, roletype: str, *, status: int = 1) -> None:
    w.line(2, "<member>")
    w.sourcedid(3, ident)
    w.line(3, f"<idtype>{idtype}</idtype>")
    w.line(3, f'<role roletype = "{roletype}">')
    w.line(4, f"<status>{status}</status>")
    w.line(3, "</role>")
    w.line(2, "</member>")


def membership_sizes(rng: random.Random, total: int, sections: int, persons: int) -> list[int]:
    """Members per section: `total` in all, uneven (shifted between random pairs)."""
    sizes = [total // sections] * sections
    sizes[0] += total - sum(sizes)
    for _ in range(sections):
        i, j = rng.randrange(sections), rng.randrange(sections)
        moved = rng.randint(0, max(0, min(sizes[i] - 5, 60, persons - sizes[j])))
        sizes[i] -= moved
        sizes[j] += moved
    return sizes


def generate(out: TextIO, args: argparse.Namespace) -> dict[str, int]:
    rng = random.Random(args.seed)
    w = Writer(out, newlines=not args.no_newlines)
    counts = {"persons": 0, "groups": 0, "memberships": 0, "members": 0}
    w.parts.append('<?xml version="1.0" encoding="UTF-8"?>' + ("\n" if w.newlines else ""))
    w.line(0, "<enterprise>")
    w.line(1, "<properties>")
    w.line(2, "<datasource>Banner</datasource>")
    w.line(2, "<target>Learning Management System</target>")
    w.line(2, "<type>Snapshot</type>")
    w.line(2, "<datetime>2017-09-01T02:00:00</datetime>")
    w.line(1, "</properties>")
    w.line(1, "<comments>Generated by bench/gen_banner_feed.py</comments>")

    for code, title, begin, end in TERMS:
        write_group(w, code, "Term", short=code, long=title, full=title, begin=begin, end=end)
        counts["groups"] += 1
    courses: dict[str, str] = {}
    for section in range(args.sections):
        dept, number, dept_title = course_code(section)
        courses.setdefault(f"{dept}{number}", dept_title)
    for course, dept_title in courses.items():
        title = f"{TOPICS[len(course) % len(TOPICS)]} {dept_title}"
        write_group(w, course, "Course", short=course, long=course, full=title)
        counts["groups"] += 1
    terms = {code: (begin, end) for code, _title, begin, end in TERMS}
    for section in range(args.sections):
        dept, number, dept_title = course_code(section)
        ident = section_id(section)
        crn, term = ident.split(".")
        number_section = f"{dept}-{number}-{section % 3 + 1:02d}"
        full = f"{rng.choice(TOPICS)} {dept_title}"
        write_group(
            w,
            ident,
            "CourseSection",
            short=crn,
            long=number_section,
            full=full,
            orgunit=dept_title,
            begin=terms[term][0],
            end=terms[term][1],
            relations=(("Term", term), ("Course", f"{dept}{number}")),
        )
        counts["groups"] += 1
    crosslists = [
        (2 * i, 2 * i + 3) for i in range(args.sections // 50) if 2 * i + 3 < args.sections
    ]
    for n, (first, _second) in enumerate(crosslists):
        ident = f"XLS{n:04d}.{section_id(first).split('.')[1]}"
        write_group(w, ident, "CrossListedSection", short=ident, long=ident, full=ident)
        counts["groups"] += 1

    for index in range(args.persons):
        write_person(w, rng, index)
        counts["persons"] += 1

    sizes = membership_sizes(rng, args.memberships, args.sections, args.persons)
    for section, size in enumerate(sizes):
        w.line(1, "<membership>")
        w.sourcedid(2, section_id(section))
        for position, person in enumerate(rng.sample(range(args.persons), size)):
            sctid = f"@{person + 10_000_000:08d}"
            if position == 0:
                roletype = "02"
            else:
                draw = rng.random()
                roletype = "08" if draw < 0.01 else "03" if draw < 0.012 else "01"
            write_member(w, sctid, 1, roletype, status=0 if rng.random() < 0.02 else 1)
            counts["members"] += 1
        w.line(1, "</membership>")
        counts["memberships"] += 1
    for n, (first, second) in enumerate(crosslists):
        w.line(1, "<membership>")
        w.sourcedid(2, f"XLS{n:04d}.{section_id(first).split('.')[1]}")
        for section in (first, second):
            write_member(w, section_id(section), 2, "01")
            counts["members"] += 1
        w.line(1, "</membership>")
        counts["memberships"] += 1
    w.line(0, "</enterprise>")
    w.flush()
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--sections", type=int, default=5_000)
    parser.add_argument("--memberships", type=int, default=500_000, help="member entries")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--no-newlines", action="store_true", help="write it all on one line")
    args = parser.parse_args(argv)
    if args.sections < 1 or args.persons < 1:
        parser.error("--persons and --sections must be at least 1")
    with args.out.open("w", encoding="utf-8", newline="\n") as out:
        counts = generate(out, args)
    size = args.out.stat().st_size
    summary = ", ".join(f"{value:,} {name}" for name, value in counts.items())
    print(f"{args.out}: {size / 1e6:.1f} MB; {summary}", file=sys.stderr)


if __name__ == "__main__":
    main()
