"""Settings of the store: [store] url in either file layout, --store, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings

PG = "postgresql://stampgate@db.internal/stampgate"


@pytest.mark.parametrize("text", [
    f'data = "/srv/x"\n[store]\nurl = "{PG}"\n',
    f'[stampgate]\ndata = "/srv/x"\n[store]\nurl = "{PG}"\n',
    f'[stampgate]\ndata = "/srv/x"\n[stampgate.store]\nurl = "{PG}"\n',
])
def test_store_url_from_the_file(tmp_path: Path, text: str) -> None:
    config = tmp_path / "stampgate.toml"
    config.write_text(text)
    assert load_settings(config, {}).store_url == PG
    flag = "postgresql://other@127.0.0.1/x"
    assert load_settings(config, {"store_url": flag}).store_url == flag


@pytest.mark.parametrize(("text", "expected"), [
    ('[store]\nurl = "mysql://root:pw@db/x"\n', "store URL 'mysql'... is not understood"),
    ('[store]\nurl = 5\n', "[store] takes one key, url"),
    ('[store]\nurl = "x"\npool = 3\n', "[store] takes one key, url"),
    ('store = "postgresql://x@y/z"\n', "[store] takes one key, url"),
    ('data = "/srv/a"\n[store]\nurl = "sqlite:////srv/b/stampgate.sqlite3"\n',
     "the SQLite store is the file stampgate.sqlite3 in the data directory"),
    ('downstream_timeout = 60\noutbox_lease_seconds = 100\n',
     "setting outbox_lease_seconds: must be more than twice downstream_timeout"),
])
def test_bad_store_settings_are_named(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "stampgate.toml"
    config.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {})
    assert expected in str(caught.value)
    assert "pw@" not in str(caught.value)


def test_the_sqlite_file_of_the_data_directory_is_accepted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/stampgate.sqlite3"
    assert load_settings(None, {"data": tmp_path, "store_url": url}).store_url == url
