"""The domain is plain Python: it imports nothing of the layers above it, nor a database, web or Teams library.

Every ``import`` statement of every module under ``domain/`` is read from its syntax tree, including those inside
functions and ``if __name__ == "__main__":`` blocks, so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = ("store", "services", "dialogs", "bot", "sqlalchemy", "alembic", "aiohttp", "botbuilder", "botframework")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN


DOMAIN_MODULES = sorted(DOMAIN.rglob("*.py"))


def test_the_domain_has_modules_to_check() -> None:
    assert len(DOMAIN_MODULES) >= 10 and DOMAIN / "consent_import.py" in DOMAIN_MODULES


@pytest.mark.parametrize("path", DOMAIN_MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_a_domain_module_imports_no_outer_layer_nor_io_library(path: Path) -> None:
    bad = [f"line {line}: {module}" for line, module in _imported_modules(path) if _forbidden(module)]
    assert bad == [], f"domain/{path.relative_to(DOMAIN)} imports {bad}"


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("import json\n\ndef main():\n    from store.consent_store import main\n\n"
                      "if __name__ == '__main__':\n    import bot.app\n", encoding="utf-8")
    assert [m for _, m in _imported_modules(module) if _forbidden(m)] == ["store.consent_store", "bot.app"]
