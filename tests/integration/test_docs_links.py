# SPDX-License-Identifier: ISC
"""Issue 15: README.md and docs/*.md link only to files in the
repository, and every such link resolves (no ../shared/DESIGN.md)."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
# [text](target) and [text](target "title"); images too. Code spans and
# fenced blocks are dropped first: a link there is an example.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)


def strip_code(text):
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def links(path):
    text = strip_code(path.read_text(encoding="utf-8"))
    return LINK.findall(text) + REF.findall(text)


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_links_resolve_inside_repository(doc):
    bad = []
    for target in links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # https:, mailto: ... are not files
        path = target.split("#", 1)[0]
        if path == "":
            continue  # an anchor in the same page
        dest = (doc.parent / path).resolve()
        if REPO not in dest.parents and dest != REPO:
            bad.append(f"{target}: outside the repository")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
    assert bad == [], f"{doc.relative_to(REPO)}: {bad}"


def test_no_mention_of_files_outside_repository():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert "../shared/" not in text, doc
        assert "DESIGN.md" not in text, doc


def test_architecture_linked_from_readme():
    assert "docs/architecture.md" in links(REPO / "README.md")
    assert (REPO / "docs" / "architecture.md").is_file()


def test_checker_finds_a_broken_link(tmp_path):
    """The checker itself: a broken and an outside link are caught."""
    doc = tmp_path / "x.md"
    doc.write_text("see [a](nope.md), [b](../../etc/passwd) and "
                   "`[c](in-code.md)`\n")
    assert links(doc) == ["nope.md", "../../etc/passwd"]
