"""Fixtures for the pure core: the shipped example policy and its stamp vocabulary."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from playwright.sync_api import Page, sync_playwright

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


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        # Mail clients run no scripts: <noscript> content is shown.
        context = browser.new_context(java_script_enabled=False)
        yield context.new_page()
        context.close()
        browser.close()
