"""The documentation site's pages take their text from README.md (docs/hooks.py): every page's
marker names a README section that exists, and every section of the README is on some page.
The site itself is built by CI with `mkdocs build --strict` (the README's ci:docs block)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
hooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hooks)
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted((ROOT / "docs").glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_page_marker_names_a_readme_section(page):
    text = page.read_text(encoding="utf-8")
    expanded = hooks.expand(text, README)
    assert "{{ readme" not in expanded
    assert len(expanded) > len(text) or "readme:" not in text


def test_every_readme_section_is_on_a_page():
    used = set()
    for page in PAGES:
        for m in hooks.MARKER.finditer(page.read_text(encoding="utf-8")):
            used.add(m.group("heading"))
    sections = re.findall(r"^## (.+)$", README, re.M)
    subsections_on_their_own = {"Several objectives"}
    assert set(sections) <= used, set(sections) - used
    assert subsections_on_their_own <= used


def test_a_renamed_heading_fails_and_until_stops_at_its_subsection():
    with pytest.raises(hooks.MissingSection, match="no section 'Nowhere'"):
        hooks.expand("{{ readme: Nowhere }}", README)
    text = "# T\nintro\n## A\na text\n### B\nb text\n## C\nc text\n"
    assert hooks.section(text, "top") == "intro\n"
    assert hooks.section(text, "A") == "a text\n### B\nb text\n"
    assert hooks.section(text, "A", until="B") == "a text\n"
    assert hooks.section(text, "B") == "b text\n"
    assert hooks.section("# T\n```\n## not a heading\n```\n## A\nx\n", "top") == "```\n## not a heading\n```\n"
