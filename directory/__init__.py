"""Who holds which role (the directories behind `domain.roles.RoleDirectory`), and the consent list in SharePoint.

- `directory.static.StaticRoleDirectory`: people and roles listed in a JSON file (small schools, dev).
- `directory.graph.GraphRoleDirectory`: Entra groups read through Microsoft Graph, cached briefly.
- `directory.factory.build_directory`: picks one from the settings.
- `directory.consent_sharepoint.SharePointConsentReader`: the consent register's SharePoint list, read through
  the same Graph client (the school's other Microsoft Graph adapter).

This module holds only what the others share, and imports none of them.
"""

from __future__ import annotations

from typing import Protocol

from bot.settings import SettingsError
from domain.roles import RoleDirectory


class DirectoryConfigError(SettingsError):
    """The role directory cannot be built from the settings; the message says what to set."""


class ClosableRoleDirectory(RoleDirectory, Protocol):
    """A role directory that may hold connections (Graph) to release when the app stops."""

    async def aclose(self) -> None:
        """Release network clients and credentials. Safe to call more than once."""
        ...
