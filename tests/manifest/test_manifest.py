"""The Teams app package: built by the real command, validated against Microsoft's manifest schema.

The schema comes from the npm package `@microsoft/app-manifest` in node_modules (run `npm ci`); it is
resolved offline only. The icons are checked by decoding the PNG files independently of the code that
wrote them.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft7Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

from bot.settings import Settings
from manifest.build import (
    GROUP_CHAT_COMMANDS,
    MANIFEST_VERSION,
    PERSONAL_COMMANDS,
    PLAYGROUND_APP_ID,
    REPORT_MESSAGE_COMMAND_ID,
    SCHEMA_URL,
    TEAM_COMMANDS,
    ManifestError,
    build_package,
    main,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_ROOT = REPO_ROOT / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
APP_ID = "6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b"
TENANT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
DOMAIN = "policybot.example.sch.uk"
PACKAGE_FILES = {"manifest.json", "color.png", "outline.png"}

# The Microsoft schema declares draft-04 but also uses `const` and `if`/`then` (draft-06/07 keywords),
# which a plain draft-04 validator would silently ignore. Validate draft-04 plus those keywords.
TeamsSchemaValidator = extend(
    Draft4Validator,
    validators={keyword: Draft7Validator.VALIDATORS[keyword] for keyword in ("const", "if")},
)


def production_settings(**overrides: Any) -> Settings:
    """Settings as in production, independent of the environment and any .env file."""
    values: dict[str, Any] = {
        "app_id": APP_ID,
        "app_password": "not-a-real-secret",
        "app_tenant_id": TENANT_ID,
        "public_domain": DOMAIN,
        "dev_mode": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def schema_path(manifest_version: str) -> Path:
    """The schema file for a manifest version; fails (never skips) if node_modules is missing."""
    if not SCHEMA_ROOT.is_dir():
        pytest.fail(
            f"{SCHEMA_ROOT} is missing: the Teams manifest schemas come from the npm package "
            "@microsoft/app-manifest. Run `npm ci` in the repository root."
        )
    path = SCHEMA_ROOT / f"v{manifest_version}" / "MicrosoftTeams.schema.json"
    if not path.is_file():
        pytest.fail(f"No schema for manifest version {manifest_version!r} at {path}; run `npm ci`.")
    return path


def _no_network(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)


def manifest_validator(manifest_version: str) -> Draft4Validator:
    """A validator for one manifest schema version, resolving references offline only."""
    schema = json.loads(schema_path(manifest_version).read_text(encoding="utf-8-sig"))
    url = f"https://developer.microsoft.com/json-schemas/teams/v{manifest_version}/MicrosoftTeams.schema.json"
    registry = Registry(retrieve=_no_network).with_resource(
        url, Resource.from_contents(schema, default_specification=DRAFT4)
    )
    return TeamsSchemaValidator(schema, registry=registry)


def schema_errors(manifest: dict[str, Any], manifest_version: str | None = None) -> list[str]:
    """Every schema error, as 'path: message', against the declared version unless one is given."""
    validator = manifest_validator(manifest_version or manifest["manifestVersion"])
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}" for error in errors]


# --- PNG reading, independent of manifest.icons ---------------------------------------------------


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour_type


def png_rgba_pixels(data: bytes) -> list[tuple[int, int, int, int]]:
    """Decode an 8-bit RGBA, non-interlaced PNG (any scanline filters) to a list of pixels."""
    width, height, depth, colour_type = png_header(data)
    assert (depth, colour_type, data[28]) == (8, 6, 0), "expected 8-bit RGBA without interlacing"
    position, compressed = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        assert struct.unpack(">I", data[position + 8 + length : position + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IDAT":
            compressed += body
        position += 12 + length
    raw = zlib.decompress(compressed)
    stride, previous, pixels = width * 4, bytearray(width * 4), []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - 4] if i >= 4 else 0
            up = previous[i]
            up_left = previous[i - 4] if i >= 4 else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                nearest = min(
                    (abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - up_left), 2, up_left)
                )
                line[i] = (line[i] + nearest[2]) & 0xFF
            else:
                assert kind == 0, f"unknown PNG filter {kind}"
        pixels.extend(tuple(line[i : i + 4]) for i in range(0, stride, 4))
        previous = line
    return pixels  # type: ignore[return-value]


# --- Building through the real command -----------------------------------------------------------


def run_build(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m manifest.build ...` in a clean directory (no .env) with only these POLICYBOT settings."""
    clean_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POLICYBOT_", "Microsoft", "MICROSOFT_", "DATABASE_URL"))
    }
    clean_env["PYTHONPATH"] = str(REPO_ROOT)
    clean_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "manifest.build", *args],
        cwd=tmp_path,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "MicrosoftAppId": APP_ID,
    "MicrosoftAppPassword": "not-a-real-secret",
    "MicrosoftAppTenantId": TENANT_ID,
    "POLICYBOT_PUBLIC_DOMAIN": DOMAIN,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The package built by the command line, unzipped: file name to bytes."""
    workdir = tmp_path_factory.mktemp("package")
    out = workdir / "out" / "policy-bot.zip"
    run = run_build(workdir, PRODUCTION_ENV, "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(out)
    assert "warning" not in run.stderr
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def manifest(built: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(built["manifest.json"].decode("utf-8"))


def test_zip_holds_exactly_the_manifest_and_icons_at_its_root(built: dict[str, bytes]) -> None:
    assert set(built) == PACKAGE_FILES


def test_manifest_is_valid_for_the_schema_version_it_declares(manifest: dict[str, Any]) -> None:
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    assert manifest["$schema"] == SCHEMA_URL
    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")
    assert schema_errors(manifest) == []


def test_the_validator_really_checks(manifest: dict[str, Any]) -> None:
    """Negative controls: the offline validator rejects a bad id and a version the schema does not allow."""
    bad = json.loads(json.dumps(manifest))
    bad["bots"][0]["botId"] = "not-a-guid"
    bad["manifestVersion"] = "1.17"  # a `const` in the schema, which plain draft-04 would ignore
    bad["bots"][0]["unknownField"] = True
    errors = schema_errors(bad, MANIFEST_VERSION)
    assert any(error.startswith("bots/0/botId") for error in errors)
    assert any(error.startswith("manifestVersion") for error in errors)
    assert any("unknownField" in error for error in errors)
    with pytest.raises(ValidationError):
        manifest_validator(MANIFEST_VERSION).validate(bad)


def test_ids_match_the_settings(manifest: dict[str, Any]) -> None:
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["composeExtensions"][0]["botId"] == APP_ID


def test_bot_scopes_commands_and_files(manifest: dict[str, Any]) -> None:
    bot = manifest["bots"][0]
    assert {"personal", "team"} <= set(bot["scopes"])
    assert bot["supportsFiles"] is True
    lists = {scope: entry["commands"] for entry in bot["commandLists"] for scope in entry["scopes"]}
    assert set(lists) == set(bot["scopes"])
    personal_titles = [command["title"] for command in lists["personal"]]
    assert personal_titles == [
        "help",
        "report",
        "can I post this photo?",
        "do not photograph",
        "new account",
        "my requests",
        "my reports",
        "ask",
        "whoami",
        "status",
    ]
    assert lists["personal"] == [c.to_dict() for c in PERSONAL_COMMANDS]
    assert lists["team"] == [c.to_dict() for c in TEAM_COMMANDS]
    assert lists["groupChat"] == [c.to_dict() for c in GROUP_CHAT_COMMANDS]
    for commands in lists.values():
        for command in commands:
            assert command["description"].strip() and "\n" not in command["description"]


def test_report_message_action(manifest: dict[str, Any]) -> None:
    [command] = manifest["composeExtensions"][0]["commands"]
    assert command == {
        "id": REPORT_MESSAGE_COMMAND_ID,
        "type": "action",
        "title": "Report to SLT",
        "description": command["description"],
        "context": ["message"],
        "fetchTask": True,
    }


def test_names_domains_and_developer(manifest: dict[str, Any]) -> None:
    assert manifest["name"]["short"] == "Policy Bot"
    assert "Holy Trinity C of E Primary School" in manifest["name"]["full"]
    assert manifest["validDomains"] == [DOMAIN]
    assert manifest["developer"]["name"] == "Holy Trinity C of E Primary"  # cut to the schema's 32
    assert manifest["developer"]["privacyUrl"] == f"https://{DOMAIN}/privacy"
    assert manifest["accentColor"].startswith("#")


def test_icon_sizes(built: dict[str, bytes], manifest: dict[str, Any]) -> None:
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert png_header(built["color.png"])[:2] == (192, 192)
    assert png_header(built["outline.png"])[:2] == (32, 32)


def test_outline_icon_is_white_on_transparent(built: dict[str, bytes]) -> None:
    pixels = png_rgba_pixels(built["outline.png"])
    assert len(pixels) == 32 * 32
    not_white = [pixel for pixel in pixels if pixel[3] != 0 and pixel[:3] != (255, 255, 255)]
    assert not_white == []
    assert sum(1 for pixel in pixels if pixel[3] == 255) > 50, "the outline should draw something"
    assert sum(1 for pixel in pixels if pixel[3] == 0) > 500, "the background should be transparent"


def test_color_icon_is_opaque_and_not_blank(built: dict[str, bytes]) -> None:
    pixels = png_rgba_pixels(built["color.png"])
    assert all(pixel[3] == 255 for pixel in pixels)
    assert len({pixel[:3] for pixel in pixels}) > 2


# --- Dev mode and bad settings -------------------------------------------------------------------


def test_dev_mode_without_app_id_uses_a_fake_guid_and_warns(tmp_path: Path) -> None:
    out = tmp_path / "dev.zip"
    run = run_build(tmp_path, {"POLICYBOT_DEV_MODE": "true"}, "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "Playground only" in run.stderr
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == manifest["bots"][0]["botId"] == PLAYGROUND_APP_ID
    assert "validDomains" not in manifest
    assert schema_errors(manifest) == []


def test_function_api_matches_the_command(manifest: dict[str, Any]) -> None:
    package = build_package(production_settings())
    assert package.manifest == manifest
    assert package.warnings == ()


def test_app_id_that_is_not_a_guid_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="'my-bot' is not a GUID"):
        build_package(production_settings(app_id="my-bot"))
    run = run_build(tmp_path, {**PRODUCTION_ENV, "MicrosoftAppId": "my-bot"}, "--out", str(tmp_path / "x.zip"))
    assert run.returncode == 2
    assert "error: MicrosoftAppId 'my-bot' is not a GUID" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "x.zip").exists()


def test_missing_app_id_outside_dev_mode_is_a_clear_error() -> None:
    with pytest.raises(ManifestError, match="No MicrosoftAppId is set"):
        build_package(production_settings(app_id=""))


@pytest.mark.parametrize("domain", ["https://policybot.example.sch.uk", "policybot.example.sch.uk/api", "a b"])
def test_public_domain_must_be_a_host_name(domain: str) -> None:
    with pytest.raises(ManifestError, match="is not a host name"):
        build_package(production_settings(public_domain=domain))


def test_no_public_domain_in_production_needs_developer_urls(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="POLICYBOT_PUBLIC_DOMAIN"):
        build_package(production_settings(public_domain=""))
    urls = ("https://school.example/", "https://school.example/privacy", "https://school.example/terms")
    package = build_package(production_settings(public_domain=""), developer_urls=urls)
    assert package.manifest["developer"]["termsOfUseUrl"] == urls[2]
    assert "validDomains" not in package.manifest
    assert schema_errors(package.manifest) == []


def test_bot_name_too_long_for_teams_is_a_clear_error() -> None:
    with pytest.raises(ManifestError, match="POLICYBOT_BOT_NAME"):
        build_package(production_settings(bot_name="The Holy Trinity Social Media Policy Helper"))


def test_app_version_must_be_semver() -> None:
    with pytest.raises(ManifestError, match="major.minor.patch"):
        build_package(production_settings(), version="1.0")


def test_main_returns_zero_and_writes_the_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for key in list(os.environ):
        if key.startswith(("POLICYBOT_", "Microsoft", "MICROSOFT_")):
            monkeypatch.delenv(key)
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    assert main(["--out", "pkg.zip", "--developer-name", "Holy Trinity School"]) == 0
    assert capsys.readouterr().out.strip() == "pkg.zip"
    with zipfile.ZipFile(tmp_path / "pkg.zip") as archive:
        assert set(archive.namelist()) == PACKAGE_FILES
        assert json.loads(archive.read("manifest.json"))["developer"]["name"] == "Holy Trinity School"
