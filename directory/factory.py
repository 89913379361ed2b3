"""Build the role directory the settings ask for."""

from __future__ import annotations

import logging

from bot.settings import Settings
from directory import ClosableRoleDirectory, DirectoryConfigError
from directory.graph import GraphRoleDirectory
from directory.static import StaticRoleDirectory

log = logging.getLogger(__name__)


def build_directory(settings: Settings) -> ClosableRoleDirectory:
    """The role directory for `settings.role_source`.

    - `config` with `POLICYBOT_ROLES_FILE`: the people and roles in that file (`directory.static`).
    - `config` without a file: nobody holds any role beyond staff. The bot still runs (staff can report and
      check photos) but nothing can be approved or routed to a role holder, so a WARNING is logged and
      `describe()` says so in `status`.
    - `graph`: Entra groups through Microsoft Graph (`directory.graph`).

    Call `aclose()` on the result when the app stops.

    Raises:
        DirectoryConfigError: (a `SettingsError`) saying which setting to set or correct.
    """
    if settings.role_source == "graph":
        if settings.roles_file is not None:
            raise DirectoryConfigError(
                "POLICYBOT_ROLES_FILE is set but POLICYBOT_ROLE_SOURCE is graph: unset one of them, so it is "
                "clear where roles come from."
            )
        return GraphRoleDirectory.from_settings(settings)
    if settings.role_source != "config":
        raise DirectoryConfigError(f"POLICYBOT_ROLE_SOURCE must be config or graph, not {settings.role_source!r}.")
    if settings.roles_file is None:
        log.warning(
            "No roles configured: set POLICYBOT_ROLES_FILE (a JSON file, see directory/static.py) or "
            "POLICYBOT_ROLE_SOURCE=graph. Until then everyone is staff and nobody can approve anything."
        )
        return StaticRoleDirectory.everyone_is_staff("no roles file (POLICYBOT_ROLES_FILE is not set)")
    return StaticRoleDirectory.from_file(settings.roles_file)
