"""The README documents every setting and the two commands it promises."""

from pathlib import Path

from bot.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _env_name(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    if alias is not None:
        return next(choice for choice in alias.choices if choice != name)  # type: ignore[union-attr]
    return f"POLICYBOT_{name.upper()}"


def test_every_setting_is_in_the_readme() -> None:
    missing = [_env_name(name) for name in Settings.model_fields if f"`{_env_name(name)}`" not in README]
    assert missing == []


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    root = Path(__file__).resolve().parents[1]
    assert "`scripts/dev`" in README and "`scripts/test`" in README
    assert (root / "scripts" / "dev").stat().st_mode & 0o111
    assert "scripts/test" in (root / ".ci" / "run").read_text()


def test_the_layout_table_names_every_folder_of_the_tree_and_no_other() -> None:
    root = Path(__file__).resolve().parents[1]
    table = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = {line.split("`")[1].rstrip("/") for line in table.splitlines() if line.startswith("| `")}
    tracked = {p.name for p in root.iterdir()
               if p.is_dir() and not p.name.startswith(".") and p.name not in {"node_modules", "data", "build",
                                                                                "test-results", "__pycache__"}
               and not p.name.endswith(".egg-info")}
    assert listed == tracked
