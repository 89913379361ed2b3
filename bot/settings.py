"""The bot's settings: one object, read once from the environment and `.env`.

Every field is documented in the README's settings table. The Bot Framework's usual names
(`MicrosoftAppId`, `MicrosoftAppPassword`, `MicrosoftAppType`, `MicrosoftAppTenantId`) are accepted
beside the project's own `POLICYBOT_*` names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.calendar import SchoolCalendar, parse_clock_time, parse_timezone, parse_weekdays
from domain.consent_import import DEFAULT_MAX_REGISTER_BYTES
from domain.dashboard import DEFAULT_TERM_STARTS, SchoolTerms, parse_term_starts
from domain.incident_routing import ChainError, parse_chain
from domain.retention import RetentionSchedule, RetentionScheduleError, build_schedule

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./data/policybot.db"

_T = TypeVar("_T")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{1,28}[0-9]$")


class SettingsError(ValueError):
    """The settings cannot be used as they are; the message says what to change."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="POLICYBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- Bot Framework registration -------------------------------------------------------------
    app_id: str = Field(
        default="",
        validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID", "POLICYBOT_APP_ID", "app_id"),
        description="The bot's Microsoft App ID (Azure Bot registration). Empty only in dev mode.",
    )
    app_password: str = Field(
        default="",
        repr=False,
        validation_alias=AliasChoices(
            "MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD", "POLICYBOT_APP_PASSWORD", "app_password"
        ),
        description="The client secret of the bot's app registration.",
    )
    app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = Field(
        default="SingleTenant",
        validation_alias=AliasChoices("MicrosoftAppType", "MICROSOFT_APP_TYPE", "POLICYBOT_APP_TYPE", "app_type"),
        description="MultiTenant, SingleTenant or UserAssignedMSI, as registered in Azure.",
    )
    app_tenant_id: str = Field(
        default="",
        validation_alias=AliasChoices(
            "MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID", "POLICYBOT_APP_TENANT_ID", "app_tenant_id"
        ),
        description="The school's Entra tenant id (the app registration's home tenant).",
    )
    allowed_tenant_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Entra tenants whose activities are served (comma separated). Defaults to app_tenant_id.",
    )

    # --- Local development ----------------------------------------------------------------------
    dev_mode: bool = Field(
        default=False,
        description="Explicit local dev mode: no app id, no token checks, loopback only. Never in production.",
    )
    host: str = Field(default="127.0.0.1", description="Address the web server listens on.")
    port: int = Field(default=3978, ge=1, le=65535, description="Port of the web server.")

    # --- Storage -----------------------------------------------------------------------------------
    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "POLICYBOT_DATABASE_URL", "database_url"),
        description="SQLAlchemy async URL: a SQLite file (default) or postgresql+asyncpg://...",
    )

    # --- Authentication endpoints (tests point these at a local OpenID server) ------------------
    openid_metadata_url: str = Field(
        default="",
        description="Override of the Bot Framework OpenID metadata URL (tests only).",
    )
    token_issuer: str = Field(
        default="",
        description="Override of the expected token issuer (tests only).",
    )

    # --- Presentation ---------------------------------------------------------------------------
    bot_name: str = Field(default="Policy Bot", description="The bot's display name in Teams.")
    school_name: str = Field(
        default="Holy Trinity C of E Primary School", description="The school's name, used in cards."
    )
    public_domain: str = Field(
        default="",
        description="The public host name the bot is reached at (for the Teams manifest's validDomains).",
    )
    log_level: str = Field(default="INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR.")
    policy_path: Path | None = Field(
        default=None,
        description="The school's social media policy (plain text or Markdown). Defaults to the bundled sample: "
        "every answer then says in its first line that it is a sample, and start-up logs a warning.",
    )
    policy_approved_on: date | None = Field(
        default=None, description="When the governing body approved the social media policy (YYYY-MM-DD), for the "
        "governors' report; empty: 'not recorded'.",
    )
    policy_review_due: date | None = Field(
        default=None, description="When the policy is next due for review (YYYY-MM-DD); empty: 'not recorded'.",
    )
    policy_review_months: int = Field(
        default=24, ge=1, le=120,
        description="When POLICYBOT_POLICY_REVIEW_DUE is empty: the review is due this many months after "
        "POLICYBOT_POLICY_APPROVED_ON (the Head Teacher is reminded once).",
    )
    policy_reminder_school_days: int = Field(
        default=5, ge=1, le=60,
        description="Remind a member of staff who has not confirmed reading the current policy after this many "
        "school days, once per version of the policy.",
    )
    training_followup_school_days: int = Field(
        default=5, ge=1, le=60,
        description="Remind SLT every this many school days about a runner approved with training to follow, until "
        "their training is recorded.",
    )
    term_starts: str = Field(
        default=DEFAULT_TERM_STARTS, description="The first day of the autumn, spring and summer terms as MM-DD "
        "(the dashboard's and the governors' report's periods).",
    )

    # --- Roles (issue: platform services) -------------------------------------------------------
    roles_file: Path | None = Field(
        default=None,
        description="JSON file mapping roles to Entra object ids and names (small schools, dev).",
    )
    role_source: Literal["config", "graph"] = Field(
        default="config", description="Where roles come from: 'config' (roles_file) or 'graph' (Entra groups)."
    )
    graph_tenant_id: str = Field(default="", description="Tenant for Microsoft Graph (defaults to app_tenant_id).")
    graph_client_id: str = Field(default="", description="App registration used for Graph (app-only).")
    graph_client_secret: str = Field(default="", repr=False, description="Client secret for Graph.")
    graph_certificate_path: Path | None = Field(default=None, description="Certificate (PEM) for Graph instead.")
    graph_use_managed_identity: bool = Field(default=False, description="Use the managed identity for Graph.")
    graph_base_url: str = Field(
        default="https://graph.microsoft.com/v1.0", description="Graph endpoint (tests point it at a fake)."
    )
    role_groups: dict[str, str] = Field(
        default_factory=dict,
        description='Role → Entra group id, JSON, e.g. {"slt": "<group id>", "head_teacher": "<group id>"}.',
    )
    role_cache_seconds: int = Field(default=300, ge=0, description="How long roles read from Graph are kept.")

    # --- Conversations and delivery -------------------------------------------------------------
    slt_channel_id: str = Field(
        default="",
        description="Teams channel id (19:...@thread.tacv2) for incident cards; or set in Teams by SLT.",
    )
    outbox_poll_seconds: float = Field(default=1.0, gt=0, description="How often the outbox looks for work.")
    outbox_max_attempts: int = Field(default=12, ge=1, description="Delivery attempts before giving up.")
    outbox_lease_seconds: float = Field(
        default=30.0, ge=1.0, le=60.0,
        description="How long a worker's claim on a message holds without renewal: after a crash, delivery "
        "resumes within this.",
    )
    outbox_renew_seconds: float = Field(
        default=10.0, gt=0,
        description="How often a worker renews its claims while sending; at most a third of the lease.",
    )

    # --- Approvals ---------------------------------------------------------------------------------
    approval_reminder_school_days: int = Field(
        default=2, ge=0,
        description="Remind deciders about a request pending this many school days (POLICYBOT_SCHOOL_DAYS), once a "
        "school day from the start of school hours.",
    )
    approval_check_seconds: float = Field(default=600.0, gt=0, description="How often reminders are looked for.")

    # --- Incidents ---------------------------------------------------------------------------------
    incident_escalation_minutes: int = Field(
        default=15, ge=1, le=240,
        description="Real minutes (day or night) an urgent report may wait for someone to take the lead before the "
        "next step of the safeguarding chain is alerted.",
    )
    safeguarding_chain: str = Field(
        default="dsl,deputy_dsl,head_teacher,deputy,chair_of_governors",
        description="Who is next, in order, when nobody before could be reached or took the lead on an urgent "
        "report: role names or Entra object ids, comma separated. Checked at start-up.",
    )
    safeguarding_phone_dsl: str = Field(default="", description="The DSL's phone number, shown when nobody can "
                                        "be reached (empty: 'ask the school office').")
    safeguarding_phone_deputy_dsl: str = Field(default="", description="The deputy DSL's phone number.")
    safeguarding_phone_children_services: str = Field(
        default="", description="The local authority's children's social care / MASH front door number."
    )
    safeguarding_phone_out_of_hours: str = Field(
        default="", description="The local authority's out-of-hours (emergency duty) team's number."
    )
    safeguarding_phone_lado: str = Field(default="", description="The Local Authority Designated Officer's number.")
    school_day_start: str = Field(
        default="08:00", description="Start of school hours (HH:MM): the escalation clock, approval reminders."
    )
    school_day_end: str = Field(default="17:00", description="End of school hours (HH:MM) for the escalation clock.")
    school_days: str = Field(
        default="mon,tue,wed,thu,fri", description="School days, comma separated: escalation clock and reminders."
    )
    school_timezone: str = Field(
        default="Europe/London",
        description="The school's time zone (IANA name): school dates and hours, references, card times.",
    )
    incident_screenshot_minutes: int = Field(
        default=30, ge=1, description="How long after a report pasted screenshots are added to it."
    )
    incident_screenshot_max_bytes: int = Field(default=5_242_880, ge=1, description="Largest screenshot accepted.")
    incident_screenshot_inline_max_bytes: int = Field(
        default=20_000, ge=0, description="Largest screenshot shown inside a card (Teams' ~28 KB card limit)."
    )
    incident_escalation_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often the escalation worker looks for due reports."
    )

    # --- Photo consent -----------------------------------------------------------------------------
    consent_mapping_file: Path | None = Field(
        default=None,
        description="JSON column mapping for MIS consent exports (CSV); defaults to the documented SIMS/Arbor one.",
    )
    consent_purposes_file: Path | None = Field(
        default=None,
        description="JSON file of the consent purposes the school records and the purpose each destination needs; "
        "defaults to display in school, website, school social media, newsletter/prospectus, press, video.",
    )
    consent_csv_max_bytes: int = Field(
        default=DEFAULT_MAX_REGISTER_BYTES, ge=1,
        description="Largest consent register accepted, the same on every path: a CSV sent in Teams, a file given "
        "to the command-line import, the SharePoint list (as the CSV it is read as). Reading stops at it.",
    )
    device_exception_days: int = Field(
        default=7,
        ge=0,
        description="Days after the Head Teacher authorises a personal-device photo exception that it applies "
        "to checks of the same photo (0: the day of the decision only). The policy sets no limit.",
    )
    consent_source: Literal["csv", "sharepoint"] = Field(
        default="csv", description="Where the consent register comes from: 'csv' (MIS export) or 'sharepoint'."
    )
    consent_sharepoint_site_id: str = Field(
        default="", description="SharePoint site id holding the consent list (consent_source=sharepoint)."
    )
    consent_sharepoint_list_id: str = Field(
        default="", description="Id (or name) of the SharePoint list holding the consent register."
    )
    consent_sharepoint_mapping_file: Path | None = Field(
        default=None,
        description="JSON column mapping from the SharePoint list's column names; defaults to the CSV mapping.",
    )
    consent_sync_minutes: int = Field(
        default=60, ge=0, description="How often the SharePoint consent list is read (0: only when asked)."
    )

    # --- Retention (docs/privacy.md) --------------------------------------------------------------
    retention_schedule: dict[str, str] = Field(
        default_factory=dict,
        description='Changes to the retention schedule, JSON kind → period, e.g. {"audit_trail": "3y", '
        '"photo_check_log": "18m"}. Kinds and defaults with their sources: docs/privacy.md. Checked at start-up.',
    )
    retention_run_hours: float = Field(
        default=24.0, gt=0, description="How often the retention job runs (it first runs 10 minutes after start-up)."
    )

    @field_validator("allowed_tenant_ids", mode="before")
    @classmethod
    def _tenants_from_csv(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _resolve_defaults(self) -> Settings:
        if not self.allowed_tenant_ids and self.app_tenant_id:
            self.allowed_tenant_ids = [self.app_tenant_id]
        return self

    @model_validator(mode="after")
    def _safeguarding_contacts_readable(self) -> Settings:
        try:
            parse_chain(self.safeguarding_chain)
        except ChainError as problem:
            raise SettingsError(f"POLICYBOT_SAFEGUARDING_CHAIN: {problem}") from problem
        for name in ("dsl", "deputy_dsl", "children_services", "out_of_hours", "lado"):
            value = getattr(self, f"safeguarding_phone_{name}")
            if value and not _PHONE.match(value):
                raise SettingsError(
                    f"POLICYBOT_SAFEGUARDING_PHONE_{name.upper()}: {value!r} is not a phone number (digits, spaces, "
                    "+, ( ) and -, at most 30 characters)."
                )
        return self

    @model_validator(mode="after")
    def _renewal_well_within_the_lease(self) -> Settings:
        if self.outbox_renew_seconds * 3 > self.outbox_lease_seconds:
            raise SettingsError(
                f"POLICYBOT_OUTBOX_RENEW_SECONDS ({self.outbox_renew_seconds:g}) must be at most a third of "
                f"POLICYBOT_OUTBOX_LEASE_SECONDS ({self.outbox_lease_seconds:g}), so that a live worker keeps its "
                "claims even when a renewal fails."
            )
        return self

    def policy_review_date(self) -> date | None:
        """When the policy's review is due: POLICYBOT_POLICY_REVIEW_DUE, else the approval date plus
        POLICYBOT_POLICY_REVIEW_MONTHS (None: neither is recorded)."""
        if self.policy_review_due is not None or self.policy_approved_on is None:
            return self.policy_review_due
        months = self.policy_approved_on.month - 1 + self.policy_review_months
        year, month = self.policy_approved_on.year + months // 12, months % 12 + 1
        day = min(self.policy_approved_on.day, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
        return date(year, month, day)

    def school_calendar(self) -> SchoolCalendar:
        """The school's calendar (time zone, school days and hours) from ``POLICYBOT_SCHOOL_*``; an empty start or
        end of the day keeps the default (08:00, 17:00).

        The app factory builds it once and hands it to every feature that reads the school's clock.

        Raises:
            SettingsError: naming the setting that cannot be read.
        """
        zone = _read_setting("POLICYBOT_SCHOOL_TIMEZONE", parse_timezone, self.school_timezone)
        weekdays = _read_setting("POLICYBOT_SCHOOL_DAYS", parse_weekdays, self.school_days)
        starts = _read_setting("POLICYBOT_SCHOOL_DAY_START", parse_clock_time, self.school_day_start or "08:00")
        ends = _read_setting("POLICYBOT_SCHOOL_DAY_END", parse_clock_time, self.school_day_end or "17:00")
        try:
            return SchoolCalendar(zone=zone, day_starts=starts, day_ends=ends, weekdays=weekdays)
        except ValueError as problem:
            raise SettingsError(f"POLICYBOT_SCHOOL_DAY_START and POLICYBOT_SCHOOL_DAY_END: {problem}") from problem

    def school_terms(self, calendar: SchoolCalendar | None = None) -> SchoolTerms:
        """The school's terms (``POLICYBOT_TERM_STARTS``) read with its calendar (``calendar``: the one the app
        factory built, else read from the settings).

        Raises:
            SettingsError: the term starts cannot be read, or the policy's review comes before its approval.
        """
        starts = _read_setting("POLICYBOT_TERM_STARTS", parse_term_starts, self.term_starts)
        if self.policy_approved_on and self.policy_review_due and self.policy_review_due <= self.policy_approved_on:
            raise SettingsError("POLICYBOT_POLICY_REVIEW_DUE must come after POLICYBOT_POLICY_APPROVED_ON.")
        return SchoolTerms(calendar if calendar is not None else self.school_calendar(), starts)

    def retention(self) -> RetentionSchedule:
        """The retention schedule: the defaults with ``POLICYBOT_RETENTION_SCHEDULE`` applied.

        Raises:
            SettingsError: naming the kind and what to change (unknown kind, unreadable, zero or negative period,
                shorter than the law's minimum).
        """
        try:
            return build_schedule(self.retention_schedule)
        except RetentionScheduleError as problem:
            raise SettingsError(f"POLICYBOT_RETENTION_SCHEDULE: {problem}") from problem

    def check_safe_to_serve(self) -> None:
        """Refuse combinations that would serve the bot without authentication.

        Raises:
            SettingsError: with a sentence saying what to change.
        """
        if self.dev_mode:
            if self.app_id or self.app_password:
                raise SettingsError(
                    "Dev mode turns token checks off, so it cannot be combined with an app id or password. "
                    "Unset POLICYBOT_DEV_MODE for production, or remove MicrosoftAppId/MicrosoftAppPassword "
                    "for local development."
                )
            if not _is_loopback(self.host):
                raise SettingsError(
                    f"Dev mode only listens on loopback (127.0.0.1 or ::1), not {self.host!r}: "
                    "without token checks anyone who can reach the port could act as any user."
                )
            return
        if not self.app_id:
            raise SettingsError(
                "No MicrosoftAppId is set. Register the bot with Azure Bot Service and set MicrosoftAppId "
                "and MicrosoftAppPassword, or set POLICYBOT_DEV_MODE=true for local development."
            )
        if self.app_type != "UserAssignedMSI" and not self.app_password:
            raise SettingsError("MicrosoftAppPassword is required with MicrosoftAppId for this app type.")
        if self.app_type in ("SingleTenant", "UserAssignedMSI") and not self.app_tenant_id:
            raise SettingsError(f"MicrosoftAppTenantId is required when MicrosoftAppType is {self.app_type}.")
        if not self.allowed_tenant_ids:
            raise SettingsError(
                "Set MicrosoftAppTenantId (or POLICYBOT_ALLOWED_TENANT_IDS) to the school's tenant: the bot "
                "serves only the tenants it is told to."
            )


def _read_setting(setting: str, parse: Callable[[str], _T], value: str) -> _T:
    try:
        return parse(value)
    except ValueError as problem:
        raise SettingsError(f"{setting}: {problem}") from problem


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
