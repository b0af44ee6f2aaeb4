"""MkDocs hook: the guide's pages take their text from README.md, section by section.

A page line ``{{ readme: HEADING }}`` becomes that README section's text (from below its heading
to the next heading of the same or a higher level); ``{{ readme: HEADING / until: SUBHEADING }}``
stops at that subheading; ``{{ readme: top }}`` is what comes before the first section (the two
commands). The README stays the one text a user reads, on GitHub or on the site, and a heading
renamed in the README without its page fails the build (``mkdocs build --strict``) and the tests
(``tests/test_docs.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = re.compile(r"^\{\{ readme: (?P<heading>[^/}]+?)(?: / until: (?P<until>[^}]+?))? \}\}$", re.M)
_HEADING = re.compile(r"^(#{1,6}) (.+)$")


class MissingSection(LookupError):
    pass


def section(text: str, heading: str, until: str | None = None) -> str:
    """The body of the section titled ``heading`` (without its heading line); "top": what comes
    between the title and the first section."""
    headings = []  # (line index, level, title), outside fenced code
    lines, fenced = text.splitlines(), False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            headings.append((i, len(match.group(1)), match.group(2)))
    if heading == "top":
        first = next(((i, n) for i, n, _ in headings if n == 1), (-1, 1))
        start, level = first[0] + 1, 1
    else:
        found = [(i, n) for i, n, title in headings if title == heading]
        if not found:
            raise MissingSection(f"README.md has no section {heading!r}")
        start, level = found[0][0] + 1, found[0][1]
    if until is not None and not any(title == until for _, _, title in headings):
        raise MissingSection(f"README.md has no section {until!r}")
    stop = 2 if heading == "top" else level  # the first section ends what comes before it
    end = next((i for i, n, title in headings if i >= start and (n <= stop or title == until)), len(lines))
    return "\n".join(lines[start:end]).strip("\n") + "\n"


def expand(markdown: str, readme: str) -> str:
    """Every readme marker of a page replaced by its section's text."""
    return MARKER.sub(lambda m: section(readme, m.group("heading"), m.group("until")), markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:  # MkDocs' hook
    return expand(markdown, README.read_text(encoding="utf-8"))
