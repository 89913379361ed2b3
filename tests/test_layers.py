"""The architecture as a test: each folder imports only the layers below it (docs/architecture.md).

    bot/ -> dialogs/ -> services/ -> domain/, cards/, store/, directory/

botbuilder is imported only in bot/ and dialogs/; SQLAlchemy never in dialogs/, cards/ or domain/; nothing
imports upwards. Every import is read from the source (lazy imports inside functions too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each source folder may import of the project's own folders.
ALLOWED: dict[str, frozenset[str]] = {
    "bot": frozenset({"bot", "dialogs", "services", "cards", "domain", "store", "directory"}),
    "dialogs": frozenset({"dialogs", "services", "cards", "domain", "store", "directory"}),
    "services": frozenset({"services", "cards", "domain", "store", "directory"}),
    "cards": frozenset({"cards", "domain"}),
    "store": frozenset({"store", "domain"}),
    "directory": frozenset({"directory", "domain"}),
    "domain": frozenset({"domain"}),
}
PROJECT = frozenset(ALLOWED) | {"manifest", "migrations", "tests", "bench"}
# The one settings object is defined at the edge and read, as a type, by the layers that take their own
# configuration from it; it imports nothing of the project but domain/ (checked below).
SHARED = frozenset({"bot.settings"})
BOTBUILDER = ("botbuilder", "botframework", "msrest")
SQLALCHEMY = ("sqlalchemy", "alembic", "aiosqlite", "asyncpg")
NO_SQL = frozenset({"dialogs", "cards", "domain"})
BOTBUILDER_ALLOWED = frozenset({"bot", "dialogs"})


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def sources() -> list[Path]:
    return sorted(p for folder in ALLOWED for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_the_layers_below_it(path: Path) -> None:
    folder = path.relative_to(ROOT).parts[0]
    wrong = []
    for name in imports_of(path):
        top = name.split(".")[0]
        if top in PROJECT and top not in ALLOWED[folder] and name not in SHARED:
            wrong.append(f"{name} (a {folder}/ module may import {sorted(ALLOWED[folder])})")
        if top in BOTBUILDER and folder not in BOTBUILDER_ALLOWED:
            wrong.append(f"{name} (Bot Framework only in bot/ and dialogs/)")
        if top in SQLALCHEMY and folder in NO_SQL:
            wrong.append(f"{name} (no SQL in {folder}/)")
    assert wrong == []


def test_the_settings_every_layer_reads_import_only_the_domain() -> None:
    project = [n for n in imports_of(ROOT / "bot" / "settings.py") if n.split(".")[0] in PROJECT]
    assert all(n.startswith("domain.") for n in project), project


def test_the_check_reads_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from bot.app import create_app\n    import sqlalchemy\n")
    assert imports_of(module) == ["bot.app", "sqlalchemy"]
