"""Fixtures for the end-to-end tests in the Microsoft 365 Agents Playground (see tests/e2e/playground.py).

Fixtures (all module-scoped: one bot, one database and one Playground per identity for each test module):

* ``e2e_stack``: the running bot + browser; ``e2e_stack.session("<identity>")`` opens any identity in
  ``playground/<identity>/``; ``e2e_stack.bot`` is the bot process (log, ``errors()``, ``wait_for_log``);
* ``staff`` / ``head_teacher`` / ``data_admin`` / ``dpo``: ``PlaygroundSession`` for Sam Teacher, Anna Smith
  (Head Teacher) and Jo Bell (data admin, and DPO: ``dpo`` is the same Playground);
* ``e2e_bot_env``: extra environment for the bot; override it in a test module to change settings.

The Playgrounds of the identity fixtures a module uses start together with the bot, and their pages start
loading at once; ``open_personal_chat()`` / ``open_channel()`` finish loading.

The tests must be plain (sync) functions: see the module docstring of playground.py.
On a failure the bot's log, each Playground's activity log and output are added to the report, and a
screenshot of each open page is saved in test-results/e2e/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from tests.e2e.playground import (
    REPO_ROOT,
    SKIP_ENV,
    E2EStack,
    PlaygroundSession,
    missing_prerequisites,
)

FAILURE_DIR = REPO_ROOT / "test-results" / "e2e"


def _require_prerequisites() -> None:
    missing = missing_prerequisites()
    if not missing:
        return
    reason = f"Playground end-to-end tests need {', '.join(missing)}: run scripts/test (which installs them)"
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{reason} [skipped because {SKIP_ENV}=1]")
    pytest.fail(f"{reason}, or set {SKIP_ENV}=1 to skip these tests.", pytrace=False)


@pytest.fixture(scope="module")
def e2e_bot_env() -> dict[str, str]:
    """Extra environment for the bot under test (override in a module, e.g. to point at a roles file)."""
    return {}


# Session fixtures by the identity they open: started together with the bot when a module uses them.
IDENTITY_FIXTURES = {"staff": "staff", "head_teacher": "head-teacher", "data_admin": "data-admin",
                     "dpo": "data-admin"}  # Jo Bell is the data admin and the DPO (playground/roles.json)


@pytest.fixture(scope="module")
def e2e_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, e2e_bot_env: dict[str, str]
) -> Iterator[E2EStack]:
    _require_prerequisites()
    used = {name for item in request.session.items if item.module is request.module for name in item.fixturenames}
    identities = list(dict.fromkeys(identity for fixture, identity in IDENTITY_FIXTURES.items() if fixture in used))
    stack = E2EStack(tmp_path_factory.mktemp("e2e"), e2e_bot_env)
    try:
        stack.start(identities)
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def staff(e2e_stack: E2EStack) -> PlaygroundSession:
    """Sam Teacher, a member of staff (playground/staff)."""
    return e2e_stack.session("staff")


@pytest.fixture(scope="module")
def head_teacher(e2e_stack: E2EStack) -> PlaygroundSession:
    """Anna Smith, the Head Teacher (playground/head-teacher)."""
    return e2e_stack.session("head-teacher")


@pytest.fixture(scope="module")
def data_admin(e2e_stack: E2EStack) -> PlaygroundSession:
    """Jo Bell, the data admin in the school office (playground/data-admin)."""
    return e2e_stack.session("data-admin")


@pytest.fixture(scope="module")
def dpo(e2e_stack: E2EStack) -> PlaygroundSession:
    """Jo Bell as the Data Protection Officer (the same Playground as ``data_admin``: she holds both roles)."""
    return e2e_stack.session("data-admin")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.failed and report.when in ("setup", "call"):
        stack = getattr(item, "funcargs", {}).get("e2e_stack")
        if isinstance(stack, E2EStack):
            label = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])
            try:
                for title, text in stack.diagnostics(FAILURE_DIR, label):
                    report.sections.append((title, text))
            except Exception as error:  # noqa: BLE001 - never hide the real failure
                report.sections.append(("e2e diagnostics", f"could not collect: {error!r}"))
    return report
