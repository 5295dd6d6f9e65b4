"""Fixtures for the pure core: the shipped example policy and its stamp vocabulary."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from gateway.core.policy import Policy
from gateway.core.stamps import Vocabulary
from gateway.policyfiles.load import load_policy

POLICIES = Path(__file__).resolve().parents[2] / "policies"

# Hypothesis keeps caches in ./.hypothesis; with the project's own ``norecursedirs`` pytest
# then warns about that folder, and warnings are errors. Keep the caches out of the tree.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "stampgate-hypothesis"))


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(POLICIES)


@pytest.fixture(scope="session")
def vocabulary(policy: Policy) -> Vocabulary:
    return policy.vocabulary
