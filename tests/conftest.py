"""Fixtures shared by the test suite: a recording downstream, a running gateway, the
machine's PostgreSQL, and an empty store on each engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.downstream import Downstream
from tests.support.gateway import GatewayProcess
from tests.support.postgres import TestDatabase


@pytest.fixture(scope="module")
def downstream() -> Iterator[Downstream]:
    server = Downstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            downstream: Downstream) -> Iterator[GatewayProcess]:
    """One gateway per test module, relaying to the module's recording downstream."""
    workdir: Path = tmp_path_factory.mktemp("gateway")
    process = GatewayProcess(workdir, downstream.url).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[TestDatabase]:
    """A database on the machine's PostgreSQL for this run, dropped at its end."""
    database = TestDatabase().create()
    yield database
    database.drop()


@pytest.fixture(params=("sqlite", "postgresql"))
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty store on each engine (SQLite: the data directory's file)."""
    if request.param == "sqlite":
        return ""
    database: TestDatabase = request.getfixturevalue("postgres")
    return database.new_schema()


@pytest.fixture(autouse=True)
def _fresh_downstream(request: pytest.FixtureRequest) -> None:
    if "downstream" in request.fixturenames:
        request.getfixturevalue("downstream").clear()
