"""Roles from configuration: the roles file, the Playground's users, and choosing a directory from settings."""

from __future__ import annotations

import datetime
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bot.settings import Settings, SettingsError
from directory import DirectoryConfigError
from directory.factory import build_directory
from directory.graph import GraphRoleDirectory, create_graph_client
from directory.static import DirectoryEntry, RolesFileError, StaticRoleDirectory
from domain.roles import Person, Role

ROOT = Path(__file__).resolve().parents[2]
PLAYGROUND_ROLES = ROOT / "playground" / "roles.json"

SAM = "00000000-0000-0000-0000-000000000101"
LEE = "00000000-0000-0000-0000-000000000102"
ANNA = "00000000-0000-0000-0000-000000000201"
PRIYA = "00000000-0000-0000-0000-000000000202"
TOM = "00000000-0000-0000-0000-000000000203"
JO = "00000000-0000-0000-0000-000000000204"
GRACE = "00000000-0000-0000-0000-000000000301"
STRANGER = "00000000-0000-0000-0000-000000000999"
GROUP = "11111111-0000-0000-0000-000000000001"


def write_roles(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "school-roles.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, dev_mode=True, **values)  # type: ignore[call-arg]


# --- the Playground's roles ---------------------------------------------------------------------------


@pytest.fixture
def playground() -> StaticRoleDirectory:
    return StaticRoleDirectory.from_file(PLAYGROUND_ROLES)


@pytest.mark.parametrize(
    ("who", "roles"),
    [
        (SAM, {Role.STAFF}),
        (LEE, {Role.STAFF}),
        (ANNA, {Role.STAFF, Role.HEAD_TEACHER, Role.SLT}),
        (PRIYA, {Role.STAFF, Role.SLT, Role.DEPUTY}),
        (TOM, {Role.STAFF, Role.DSL, Role.SLT}),
        (JO, {Role.STAFF, Role.DATA_ADMIN, Role.DPO}),
        (GRACE, {Role.STAFF, Role.CHAIR_OF_GOVERNORS}),
        (STRANGER, {Role.STAFF}),  # any tenant member the file does not list
    ],
)
async def test_playground_users_have_the_roles_the_design_gives_them(
    playground: StaticRoleDirectory, who: str, roles: set[Role]
) -> None:
    lookup = await playground.roles_of(who)
    assert lookup.roles == roles
    assert lookup.source == "config" and not lookup.degraded


async def test_every_role_has_a_holder_in_the_playground(playground: StaticRoleDirectory) -> None:
    for role in Role:
        if role is not Role.STAFF:
            assert await playground.holders_of(role), f"nobody holds {role} in {PLAYGROUND_ROLES.name}"
    assert await playground.holders_of(Role.SLT) == [
        Person(ANNA, "Anna Smith"),
        Person(PRIYA, "Priya Shah"),
        Person(TOM, "Tom Reed"),
    ]
    assert await playground.holders_of(Role.HEAD_TEACHER) == [Person(ANNA, "Anna Smith")]


def playground_users() -> list[tuple[str, str]]:
    """(aadObjectId, name) of every user in the Playground identity files."""
    users: set[tuple[str, str]] = set()
    for config in ROOT.glob("playground/*/.m365agentsplayground.yml"):
        name = ""
        for line in config.read_text(encoding="utf-8").splitlines():
            if found := re.match(r"\s*(?:- )?name:\s*(.+)", line):
                name = found.group(1).strip()
            elif found := re.match(r"\s*aadObjectId:\s*(\S+)", line):
                users.add((found.group(1), name))
    return sorted(users)


def test_the_roles_file_names_every_playground_user_as_the_playground_does() -> None:
    listed = {person["aadObjectId"]: person["name"] for person in json.loads(PLAYGROUND_ROLES.read_text())["people"]}
    users = playground_users()
    assert len(users) >= 6
    for aad_object_id, name in users:
        assert listed.get(aad_object_id) == name


def test_playground_describes_its_file(playground: StaticRoleDirectory) -> None:
    assert playground.describe() == "configuration file roles.json (8 people listed)"  # with the deputy DSL


async def test_object_ids_are_compared_without_regard_to_case() -> None:
    directory = StaticRoleDirectory(
        [DirectoryEntry("ABCDEF00-0000-0000-0000-000000000001", "Ann", frozenset({Role.DPO}))], description="test"
    )
    assert Role.DPO in (await directory.roles_of("abcdef00-0000-0000-0000-000000000001")).roles


async def test_staff_is_everyone_so_it_has_no_holders_list(playground: StaticRoleDirectory) -> None:
    with pytest.raises(ValueError, match="Everyone in the tenant is staff"):
        await playground.holders_of(Role.STAFF)


# --- leavers ------------------------------------------------------------------------------------------


async def test_a_leaver_holds_no_role_and_is_not_in_the_directory(tmp_path: Path) -> None:
    path = write_roles(
        tmp_path,
        {
            "people": [
                {"aadObjectId": ANNA, "name": "Anna Smith", "roles": ["head_teacher"]},
                {"aadObjectId": LEE, "name": "Lee Carter", "left": True, "note": "left July 2026"},
            ]
        },
    )
    directory = StaticRoleDirectory.from_file(path)
    assert (await directory.roles_of(LEE)).roles == {Role.STAFF}
    assert await directory.is_in_directory(LEE) is False
    assert await directory.is_in_directory(ANNA) is True
    assert await directory.is_in_directory(STRANGER) is True  # a file cannot see the tenant: assumed present
    assert directory.describe() == "configuration file school-roles.json (1 person listed)"


# --- a roles file the bot cannot use ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "expected"),
    [
        (
            [
                {"aadObjectId": ANNA, "name": "Anna Smith", "roles": ["head_teacher"]},
                {"aadObjectId": TOM, "name": "Tom Reed", "roles": ["slt", "dls"]},
            ],
            r"people\[1\] \(Tom Reed\)\.roles: unknown role 'dls' \(known roles: staff, head_teacher, ",
        ),
        (
            [{"aadObjectId": "not-a-guid", "name": "Tom Reed"}],
            r"people\[0\] \(Tom Reed\)\.aadObjectId: .*\(got 'not-a-guid'\)",
        ),
        ([{"name": "Tom Reed", "roles": ["dsl"]}], r"people\[0\] \(Tom Reed\)\.aadObjectId: Field required"),
        ([{"aadObjectId": TOM, "name": "  "}], r"people\[0\]\.name: the name is blank"),
        (
            [{"aadObjectId": TOM, "name": "Tom Reed", "role": ["dsl"]}],
            r"people\[0\] \(Tom Reed\)\.role: Extra inputs are not permitted",
        ),
        (
            [{"aadObjectId": TOM, "name": "Tom Reed", "roles": "dsl"}],
            r"people\[0\] \(Tom Reed\)\.roles: Input should be a valid list",
        ),
        (
            [{"aadObjectId": TOM, "name": "Tom Reed", "roles": ["dsl"], "left": True}],
            r"people\[0\] \(Tom Reed\): marked as left but still holds roles",
        ),
        (
            [
                {"aadObjectId": TOM, "name": "Tom Reed", "roles": ["dsl"]},
                {"aadObjectId": TOM.upper(), "name": "T. Reed", "roles": ["slt"]},
            ],
            r"the file: aadObjectId 00000000-0000-0000-0000-000000000203 is listed twice \(Tom Reed and T\. Reed\)",
        ),
    ],
)
def test_a_bad_entry_is_named_with_the_file(tmp_path: Path, people: list[dict[str, Any]], expected: str) -> None:
    path = write_roles(tmp_path, {"people": people})
    with pytest.raises(RolesFileError) as raised:
        StaticRoleDirectory.from_file(path)
    message = str(raised.value)
    assert str(path) in message
    assert re.search(expected, message), message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"people": [', r"is not valid JSON: .* line 1, column 13"),
        ({"staff": []}, r"people: Field required"),
        ([], r"the file: Input should be a valid dictionary"),
        ({"people": {"aadObjectId": ANNA}}, r"people: Input should be a valid list"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(tmp_path: Path, content: Any, expected: str) -> None:
    path = write_roles(tmp_path, content)
    with pytest.raises(RolesFileError, match=expected):
        StaticRoleDirectory.from_file(path)


def test_a_missing_file_says_which_setting_to_fix(tmp_path: Path) -> None:
    with pytest.raises(RolesFileError, match=r"Cannot read the roles file .*nowhere\.json.*POLICYBOT_ROLES_FILE"):
        StaticRoleDirectory.from_file(tmp_path / "nowhere.json")


def test_roles_file_errors_are_settings_errors() -> None:
    assert issubclass(RolesFileError, DirectoryConfigError)
    assert issubclass(DirectoryConfigError, SettingsError)
    assert issubclass(SettingsError, ValueError)


# --- choosing the directory from settings -------------------------------------------------------------


async def test_config_source_with_a_file_reads_the_file() -> None:
    directory = build_directory(settings(roles_file=PLAYGROUND_ROLES))
    assert isinstance(directory, StaticRoleDirectory)
    assert (await directory.roles_of(ANNA)).roles >= {Role.HEAD_TEACHER}
    await directory.aclose()


async def test_config_source_without_a_file_makes_everyone_staff_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="directory.factory"):
        directory = build_directory(settings())
    assert "set POLICYBOT_ROLES_FILE" in caplog.text
    assert (await directory.roles_of(ANNA)).roles == {Role.STAFF}
    assert await directory.holders_of(Role.HEAD_TEACHER) == []
    assert "POLICYBOT_ROLES_FILE is not set" in directory.describe()


def test_config_source_with_a_broken_file_stops_start_up(tmp_path: Path) -> None:
    path = write_roles(tmp_path, {"people": [{"aadObjectId": TOM, "name": "Tom", "roles": ["headteacher"]}]})
    with pytest.raises(RolesFileError, match="unknown role 'headteacher'"):
        build_directory(settings(roles_file=path))


GRAPH_APP = {
    "role_source": "graph",
    "graph_tenant_id": "00000000-0000-0000-0000-0000000000aa",
    "graph_client_id": "22222222-0000-0000-0000-000000000002",
    "graph_client_secret": "not-a-real-secret",
    "role_groups": {"head_teacher": GROUP, "slt": "11111111-0000-0000-0000-000000000002"},
}


async def test_graph_source_builds_a_graph_directory_on_the_configured_endpoint() -> None:
    directory = build_directory(settings(**{**GRAPH_APP, "graph_base_url": "https://graph.example.test/v1.0/"}))
    assert isinstance(directory, GraphRoleDirectory)
    assert directory.describe() == "Microsoft Graph: Entra groups for head_teacher, slt (kept 300 s)"
    await directory.aclose()
    await directory.aclose()  # a second close is harmless


async def test_the_graph_client_uses_the_base_url_from_settings() -> None:
    connection = create_graph_client(settings(**{**GRAPH_APP, "graph_base_url": "https://graph.example.test/beta/"}))
    assert connection.client.request_adapter.base_url == "https://graph.example.test/beta"
    await connection.aclose()


async def test_graph_with_a_managed_identity_needs_no_secret() -> None:
    values = {key: value for key, value in GRAPH_APP.items() if key != "graph_client_secret"}
    directory = build_directory(settings(**values, graph_use_managed_identity=True))
    assert isinstance(directory, GraphRoleDirectory)
    await directory.aclose()


def self_signed_pem() -> bytes:
    """A private key and its self-signed certificate, PEM encoded, as Entra app certificates are kept."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "policy-bot-graph")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + certificate.public_bytes(serialization.Encoding.PEM)


async def test_graph_with_a_certificate_file(tmp_path: Path) -> None:
    certificate = tmp_path / "graph.pem"
    certificate.write_bytes(self_signed_pem())
    values = {key: value for key, value in GRAPH_APP.items() if key != "graph_client_secret"}
    directory = build_directory(settings(**values, graph_certificate_path=certificate))
    assert isinstance(directory, GraphRoleDirectory)
    await directory.aclose()


@pytest.mark.parametrize(
    ("pem", "expected"),
    [
        (None, r"POLICYBOT_GRAPH_CERTIFICATE_PATH is .*graph\.pem, which is not a file"),
        (b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n", r"graph\.pem, which azure-identity cannot load"),
    ],
)
def test_a_certificate_that_cannot_be_used_is_named(tmp_path: Path, pem: bytes | None, expected: str) -> None:
    certificate = tmp_path / "graph.pem"
    if pem is not None:
        certificate.write_bytes(pem)
    values = {key: value for key, value in GRAPH_APP.items() if key != "graph_client_secret"}
    with pytest.raises(DirectoryConfigError, match=expected):
        build_directory(settings(**values, graph_certificate_path=certificate))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"role_groups": {}}, r"POLICYBOT_ROLE_GROUPS is empty"),
        ({"role_groups": {"staff": GROUP}}, r"every member of the tenant is staff"),
        ({"role_groups": {"headteacher": GROUP}}, r"unknown role 'headteacher'; roles: head_teacher, deputy"),
        ({"role_groups": {"slt": "SLT group"}}, r"maps slt to 'SLT group', which is not an Entra group object id"),
        ({"graph_client_secret": ""}, r"no Graph credential is set.*POLICYBOT_GRAPH_CLIENT_SECRET"),
        ({"graph_use_managed_identity": True}, r"only one Graph credential.*SECRET and .*MANAGED_IDENTITY"),
        ({"graph_tenant_id": ""}, r"POLICYBOT_GRAPH_TENANT_ID \(or MicrosoftAppTenantId\)"),
        ({"graph_client_id": ""}, r"set POLICYBOT_GRAPH_CLIENT_ID"),
        ({"graph_base_url": "http://graph.example.test/v1.0"}, r"POLICYBOT_GRAPH_BASE_URL must be an https URL"),
        ({"roles_file": PLAYGROUND_ROLES}, r"POLICYBOT_ROLES_FILE is set but POLICYBOT_ROLE_SOURCE is graph"),
    ],
)
def test_graph_settings_that_cannot_work_say_what_to_set(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(DirectoryConfigError, match=expected):
        build_directory(settings(**{**GRAPH_APP, **changes}))


async def test_graph_tenant_defaults_to_the_bots_tenant() -> None:
    values = {**GRAPH_APP, "graph_tenant_id": "", "app_tenant_id": "00000000-0000-0000-0000-0000000000aa"}
    directory = build_directory(settings(**values))
    assert isinstance(directory, GraphRoleDirectory)
    await directory.aclose()
