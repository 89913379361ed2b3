"""docs/security.md names, for each threat, the tests that prove its control: every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


def _test_functions() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        found.update(re.findall(r"^(?:async )?def (test_\w+)\(", path.read_text(encoding="utf-8"), re.MULTILINE))
    return found


def test_every_test_file_the_security_page_names_exists() -> None:
    files = set(re.findall(r"\b([a-z_]+/test_\w+\.py)", DOC))
    assert files, "the page names no test files"
    assert sorted(f for f in files if not (ROOT / "tests" / f).is_file()) == []


def test_every_test_the_security_page_names_exists() -> None:
    named = {name for name in re.findall(r"\b(test_\w+)\b", DOC) if not DOC.count(f"{name}.py")}
    assert len(named) > 40
    assert sorted(named - _test_functions()) == []


def test_the_readme_links_the_security_page() -> None:
    assert "docs/security.md" in (ROOT / "README.md").read_text(encoding="utf-8")
