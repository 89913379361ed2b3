"""Where the tests and the benchmark find the school's real policy, and why they skip when they cannot.

The policy is the school's own document. The repository does not carry a copy of it (it ships the sample
instead; the school has not said its policy may travel with the code), so the tests that need it look, in
order, at:

1. ``TEST_SCHOOL_POLICY`` — a path, like ``TEST_POSTGRES_URL`` for the database (not the bot's own
   ``POLICYBOT_POLICY_PATH``: the bot's settings read that one, and the tests that expect the sample would
   then get the school's policy);
2. ``../shared/reference/social-media-policy.txt`` beside the repository (the development machines and CI).

When neither holds a readable file, the tests that need it skip and say so, naming both places.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ENV_VARIABLE: Final = "TEST_SCHOOL_POLICY"
BESIDE_REPOSITORY: Final = Path(__file__).resolve().parents[3] / "shared" / "reference" / "social-media-policy.txt"


def school_policy_path() -> Path | None:
    """The school's real policy file, or None when it is not available here."""
    configured = os.environ.get(ENV_VARIABLE, "").strip()
    if configured:
        path = Path(configured)
        return path if path.is_file() else None
    return BESIDE_REPOSITORY if BESIDE_REPOSITORY.is_file() else None


def missing_reason() -> str:
    configured = os.environ.get(ENV_VARIABLE, "").strip()
    if configured:
        return f"the school's real policy is not at {ENV_VARIABLE}={configured}"
    return (
        f"the school's real policy is not here: set {ENV_VARIABLE} to the school's policy file, "
        f"or put it at {BESIDE_REPOSITORY}"
    )
