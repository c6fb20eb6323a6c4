"""The docs' links to the code hold without building them (``bash .ci/docs`` builds them, warnings fail):
every public module is in the API reference, every included example exists between its markers, and the
README's links into ``docs/`` name pages that exist.
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import hubspot_scheduler_provider

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: The sources only: never walks docs/_build, which .ci/docs rebuilds while other tiers collect tests.
PAGES = sorted(
    path
    for folder in [DOCS, *(d for d in DOCS.iterdir() if d.is_dir() and d.name != "_build")]
    for path in (folder.glob("*.md") if folder == DOCS else folder.rglob("*.md"))
)
#: ``literalinclude`` of an example DAG between ``# [START name]`` and ``# [END name]``.
INCLUDE = re.compile(
    r"^[ \t]*```\{literalinclude\} (?P<path>\S+)\n(?P<options>(?:[ \t]*:[^\n]*\n)*)", re.MULTILINE
)
MARKER = re.compile(r"^\s*# \[(START|END) (\w+)\]\s*$", re.MULTILINE)


def public_modules() -> list[str]:
    """Modules without a ``_`` in their dotted name; packages count only for their modules."""
    return sorted(
        module.name
        for module in pkgutil.walk_packages(
            hubspot_scheduler_provider.__path__, "hubspot_scheduler_provider."
        )
        if not module.ispkg and not any(part.startswith("_") for part in module.name.split("."))
    )


def test_every_public_module_is_in_the_api_reference() -> None:
    documented = set(re.findall(r"\.\. automodule:: (\S+)", "".join(p.read_text() for p in PAGES)))

    assert public_modules(), "the walk found no modules"
    assert sorted(set(public_modules()) - documented) == []


def includes() -> list[tuple[Path, Path, str, str]]:
    found = []
    for page in PAGES:
        for match in INCLUDE.finditer(page.read_text()):
            options = dict(re.findall(r":([\w-]+): ?(.*)", match["options"]))
            source = (page.parent / match["path"]).resolve()
            found.append((page, source, options["start-after"].strip('"'), options["end-before"].strip('"')))
    return found


def test_guides_include_example_code_by_markers_only() -> None:
    found = includes()

    assert len(found) >= 8
    for page, source, start, end in found:
        assert source.parent == ROOT / "example_dags", f"{page.name} includes {source}"
        name = start.removeprefix("[START ").removesuffix("]")
        assert (start, end) == (f"[START {name}]", f"[END {name}]"), page.name
        markers = MARKER.findall(source.read_text())
        assert markers.count(("START", name)) == 1 and markers.count(("END", name)) == 1, (page.name, name)


@pytest.mark.parametrize("example", sorted((ROOT / "example_dags").glob("*.py")), ids=lambda p: p.name)
def test_example_markers_are_paired_and_used(example: Path) -> None:
    markers = MARKER.findall(example.read_text())
    used = {start for _, source, start, _ in includes() if source == example}

    starts = [name for kind, name in markers if kind == "START"]
    assert starts == [name for kind, name in markers if kind == "END"], "START/END out of order"
    assert {f"[START {name}]" for name in starts} == used, "a marker no page includes, or the reverse"


def test_readme_links_into_the_docs_name_existing_pages() -> None:
    links = re.findall(r"\]\((docs/[^)#\s]+)", (ROOT / "README.md").read_text())

    assert len(links) >= 10
    assert [link for link in links if not (ROOT / link).is_file()] == []
