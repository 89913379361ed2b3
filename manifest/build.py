"""Build the Teams app package (manifest.json, color.png, outline.png in one zip) from the settings.

Run it as::

    python -m manifest.build [--out build/policy-bot.zip]

The app id and the bot id are both the bot's Microsoft App ID (`MicrosoftAppId`). In explicit dev mode
without an app id a clearly fake GUID is used so the package can be tried in the Microsoft 365 Agents
Playground; such a package cannot be uploaded to a real Teams tenant.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.settings import Settings, SettingsError
from domain.commands import Scope, menu
from manifest.icons import color_icon, hex_to_rgb, outline_icon

MANIFEST_VERSION = "1.30"
"""The newest Teams manifest schema shipped by the installed `@microsoft/app-manifest` npm package."""
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"

PLAYGROUND_APP_ID = "00000000-0000-0000-0000-000000000000"
"""The nil GUID: valid in the manifest's schema, obviously not a real app registration."""

ACCENT_COLOR = "#1E5AA8"
COLOR_ICON_NAME = "color.png"
OUTLINE_ICON_NAME = "outline.png"
DEFAULT_OUT = Path("build/policy-bot.zip")

REPORT_MESSAGE_COMMAND_ID = "reportMessage"
"""The message extension action that reports a Teams message to SLT (`composeExtension/fetchTask`)."""

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_HOST_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^{_HOST_LABEL}(\.{_HOST_LABEL})*$", re.IGNORECASE)

# Schema limits (v1.30) that settings could break: checked here so the error names the setting.
_MAX_SHORT_NAME = 30
_MAX_FULL_NAME = 100
_MAX_DEVELOPER_NAME = 32


class ManifestError(SettingsError):
    """The settings cannot make a valid Teams app package; the message says what to change."""


@dataclass(frozen=True)
class BotCommand:
    """One entry of the bot's command menu in Teams."""

    title: str
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "description": self.description}


def _menu(scope: Scope) -> tuple[BotCommand, ...]:
    """One scope's command menu, from the one command table (``domain/commands.py``)."""
    return tuple(BotCommand(entry.title, entry.description) for entry in menu(scope))


PERSONAL_COMMANDS: tuple[BotCommand, ...] = _menu(Scope.PERSONAL)
TEAM_COMMANDS: tuple[BotCommand, ...] = _menu(Scope.TEAM)
GROUP_CHAT_COMMANDS: tuple[BotCommand, ...] = _menu(Scope.GROUP_CHAT)


@dataclass(frozen=True)
class DeveloperInfo:
    """The `developer` block: who publishes the app and where its web pages are."""

    name: str
    website_url: str
    privacy_url: str
    terms_of_use_url: str

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "websiteUrl": self.website_url,
            "privacyUrl": self.privacy_url,
            "termsOfUseUrl": self.terms_of_use_url,
        }


@dataclass(frozen=True)
class AppPackage:
    """A built package: the manifest, the files of the zip, and warnings for the person building it."""

    manifest: dict[str, Any]
    files: dict[str, bytes]
    warnings: tuple[str, ...] = field(default=())

    def write(self, out: Path) -> Path:
        """Write the zip (files at its root, fixed timestamps so equal inputs give equal bytes)."""
        out.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(self.files):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, self.files[name])
        out.write_bytes(buffer.getvalue())
        return out


def app_version() -> str:
    """The app's version for the manifest: the Python project's version (Teams needs x.y.z)."""
    try:
        return metadata.version("policy-bot")
    except metadata.PackageNotFoundError as error:  # pragma: no cover - the project is installed in dev
        raise ManifestError(
            "The policy-bot project is not installed, so its version is unknown. Run `pip install -e .` "
            "or pass --app-version."
        ) from error


def resolve_app_id(settings: Settings) -> tuple[str, list[str]]:
    """The id used for both the app and its bot, and any warning about it.

    Raises:
        ManifestError: the app id is missing outside dev mode, or is not a GUID.
    """
    app_id = settings.app_id.strip()
    if not app_id:
        if not settings.dev_mode:
            raise ManifestError(
                "No MicrosoftAppId is set. The Teams app package needs the bot's Microsoft App ID (a GUID "
                "from the Azure Bot registration); set MicrosoftAppId, or POLICYBOT_DEV_MODE=true to build "
                "a package for the Agents Playground only."
            )
        return PLAYGROUND_APP_ID, [
            f"Dev mode without MicrosoftAppId: the package uses the fake app id {PLAYGROUND_APP_ID}. "
            "It is for the Microsoft 365 Agents Playground only and cannot be uploaded to Teams."
        ]
    if not _GUID.match(app_id):
        raise ManifestError(
            f"MicrosoftAppId {app_id!r} is not a GUID (like 12345678-1234-1234-1234-123456789abc). "
            "Copy the Microsoft App ID from the Azure Bot registration."
        )
    return app_id, []


def valid_domains(settings: Settings) -> list[str]:
    """`validDomains`: the public host name, if one is set.

    Raises:
        ManifestError: the setting is not a bare host name.
    """
    domain = settings.public_domain.strip()
    if not domain:
        return []
    if not _HOST_NAME.match(domain) or len(domain) > 253:
        raise ManifestError(
            f"POLICYBOT_PUBLIC_DOMAIN {domain!r} is not a host name. Give the name only, like "
            "'policybot.example.sch.uk': no https://, no path and no port."
        )
    return [domain]


def resolve_developer(
    settings: Settings, *, name: str | None = None, urls: tuple[str, str, str] | None = None
) -> tuple[DeveloperInfo, list[str]]:
    """The developer block: the school (or `name`), with its web pages at `urls` (website, privacy,
    terms of use) or, by default, on the public domain.

    Raises:
        ManifestError: a name or address Teams would refuse, or no address at all outside dev mode.
    """
    name = " ".join(name.split()) if name else shorten(settings.school_name, _MAX_DEVELOPER_NAME)
    if not name or len(name) > _MAX_DEVELOPER_NAME:
        raise ManifestError(
            f"The developer name must be 1 to {_MAX_DEVELOPER_NAME} characters, not {name!r}: "
            "pass a shorter --developer-name."
        )
    warnings: list[str] = []
    if urls is not None:
        for url in urls:
            if not url.lower().startswith(("https://", "http://")):
                raise ManifestError(f"{url!r} is not a web address: it must start with https://.")
        return DeveloperInfo(name, *urls), warnings
    domains = valid_domains(settings)
    if domains:
        base = f"https://{domains[0]}"
    elif settings.dev_mode:
        base = "https://localhost"
        warnings.append("No POLICYBOT_PUBLIC_DOMAIN: the developer web pages point at https://localhost (dev only).")
    else:
        raise ManifestError(
            "The Teams manifest needs the developer's website, privacy and terms-of-use pages. Set "
            "POLICYBOT_PUBLIC_DOMAIN to the bot's public host name, or pass --website-url, --privacy-url "
            "and --terms-url."
        )
    return DeveloperInfo(name, f"{base}/", f"{base}/privacy", f"{base}/terms"), warnings


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    return cut if 0 < len(cut) <= limit else text[:limit]


def build_manifest(
    settings: Settings,
    *,
    version: str | None = None,
    developer_name: str | None = None,
    developer_urls: tuple[str, str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The manifest.json content for these settings, and warnings for the person building it.

    Raises:
        ManifestError: a setting cannot be used in a Teams manifest.
    """
    app_id, warnings = resolve_app_id(settings)
    version = version or app_version()
    if not _SEMVER.match(version):
        raise ManifestError(f"The app version {version!r} is not of the form major.minor.patch, e.g. 1.0.0.")
    bot_name = settings.bot_name.strip()
    if not bot_name or len(bot_name) > _MAX_SHORT_NAME:
        raise ManifestError(
            f"POLICYBOT_BOT_NAME {bot_name!r} must be 1 to {_MAX_SHORT_NAME} characters: "
            "Teams shows it under the app's icon."
        )
    developer, developer_warnings = resolve_developer(settings, name=developer_name, urls=developer_urls)
    warnings.extend(developer_warnings)
    school = " ".join(settings.school_name.split())
    full_name = f"{bot_name}: {school} Social Media Policy"
    if len(full_name) > _MAX_FULL_NAME:
        full_name = bot_name

    manifest: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": developer.to_dict(),
        "name": {"short": bot_name, "full": full_name},
        "description": {
            "short": "Report incidents, check photo consent and propose school social media accounts.",
            "full": (
                f"{bot_name} puts {school}'s Social Media Policy into practice in Teams. Staff report "
                "abuse and social media incidents to the right people (SLT, the Head Teacher, the DSL), "
                "check parental consent before posting a photo of a pupil, and propose new school social "
                "media accounts with a business case for the Head Teacher to approve. Import the photo "
                "consent register by sending a CSV file in a personal chat. Everything is recorded, "
                "auditable and visible only to the people the policy names."
            ),
        },
        "icons": {"color": COLOR_ICON_NAME, "outline": OUTLINE_ICON_NAME},
        "accentColor": ACCENT_COLOR,
        "defaultInstallScope": "personal",
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": True,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal"], "commands": [c.to_dict() for c in PERSONAL_COMMANDS]},
                    {"scopes": ["team"], "commands": [c.to_dict() for c in TEAM_COMMANDS]},
                    {"scopes": ["groupChat"], "commands": [c.to_dict() for c in GROUP_CHAT_COMMANDS]},
                ],
            }
        ],
        "composeExtensions": [
            {
                "botId": app_id,
                "commands": [
                    {
                        "id": REPORT_MESSAGE_COMMAND_ID,
                        "type": "action",
                        "title": "Report to SLT",
                        "description": "Report this message to the senior leadership team under the policy.",
                        "context": ["message"],
                        "fetchTask": True,
                    }
                ],
            }
        ],
    }
    domains = valid_domains(settings)
    if domains:
        manifest["validDomains"] = domains
    return manifest, warnings


def build_package(
    settings: Settings,
    *,
    version: str | None = None,
    developer_name: str | None = None,
    developer_urls: tuple[str, str, str] | None = None,
) -> AppPackage:
    """The complete app package for these settings (see `build_manifest` for the options and errors)."""
    manifest, warnings = build_manifest(
        settings, version=version, developer_name=developer_name, developer_urls=developer_urls
    )
    manifest_json = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    files = {
        "manifest.json": manifest_json.encode("utf-8"),
        COLOR_ICON_NAME: color_icon(hex_to_rgb(ACCENT_COLOR)),
        OUTLINE_ICON_NAME: outline_icon(),
    }
    return AppPackage(manifest=manifest, files=files, warnings=tuple(warnings))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m manifest.build",
        description="Build the Teams app package (manifest.json and icons in a zip) from the bot's settings.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the zip to write (default {DEFAULT_OUT})")
    parser.add_argument("--app-version", help="the app's version, x.y.z (default: the project's version)")
    parser.add_argument("--developer-name", help="publisher name (default: the school's name, cut to 32 characters)")
    parser.add_argument("--website-url", help="developer website (default: https://<public domain>/)")
    parser.add_argument("--privacy-url", help="privacy notice (default: https://<public domain>/privacy)")
    parser.add_argument("--terms-url", help="terms of use (default: https://<public domain>/terms)")
    return parser.parse_args(argv)


def _developer_urls(args: argparse.Namespace) -> tuple[str, str, str] | None:
    urls = (args.website_url, args.privacy_url, args.terms_url)
    if not any(urls):
        return None
    if not all(urls):
        raise ManifestError("Pass all three of --website-url, --privacy-url and --terms-url, or none.")
    return urls


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: build the package and print where it was written."""
    args = _parse_args(argv)
    try:
        package = build_package(
            Settings(),
            version=args.app_version,
            developer_name=args.developer_name,
            developer_urls=_developer_urls(args),
        )
    except (SettingsError, ValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in package.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(package.write(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
