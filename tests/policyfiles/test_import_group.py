"""``stampgate policy import-group``: a group file from a staff-directory CSV export."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway.policyfiles.group_import import GroupImportError, find_column, read_directory_csv
from gateway.policyfiles.load import load_policy
from tests.policyfiles.conftest import Run

GOOD = """Name,Department,E-mail,Phone
Amira Haddad,Casework,amira@example.org,+254 700 000 001
Bilal Omar,Casework, Bilal@Example.org ,
Carla Ruiz,Legal,,+254 700 000 003
Dina Nasser,Legal,amira@example.org,
Partner Agency,External,@partner.test,
"""


def _csv(tmp_path: Path, text: str, name: str = "staff.csv", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def _group(policies: Path, name: str) -> dict[str, object]:
    return tomllib.loads((policies / "groups" / f"{name}.toml").read_text(encoding="utf-8"))


def test_a_good_csv_becomes_a_group_and_the_policy_stays_valid(
        tmp_path: Path, policies: Path, run: Run) -> None:
    status, out, err = run("policy", "import-group", "casework", _csv(tmp_path, GOOD),
                           "--policies", str(policies))
    assert status == 0, err
    assert err == ""
    assert "line 5: 'amira@example.org': same as line 2, skipped" in out
    group = _group(policies, "casework")
    assert group["members"] == ["@partner.test", "amira@example.org", "bilal@example.org"]
    assert group["description"] == "Imported from staff.csv"
    policy = load_policy(policies)
    assert out.splitlines()[-1] == (
        f"wrote {policies}/groups/casework.toml: 3 members (3 added, 0 removed; "
        f"1 blank, 1 duplicate, 0 invalid rows skipped); policy OK (version {policy.version})")
    assert policy.groups_of("bilal@example.org", "example.org") == {"casework"}
    assert policy.groups_of("anyone@partner.test", "partner.test") == {"casework"}
    assert [p.name for p in (policies / "groups").iterdir() if p.name.startswith(".")] == []


def test_invalid_rows_are_listed_and_nothing_is_written(
        tmp_path: Path, policies: Path, run: Run) -> None:
    text = "email\nok@example.org\nnot an address\n\nx@y\nmaria@example.org\n"
    status, _, err = run("policy", "import-group", "casework", _csv(tmp_path, text),
                         "--policies", str(policies))
    assert status == 1
    assert "staff.csv: line 3: 'not an address': is not a valid address" in err
    assert "staff.csv: line 5: 'x@y': is not a valid address" in err
    assert "nothing written: 2 invalid rows" in err and "--skip-invalid" in err
    assert not (policies / "groups" / "casework.toml").exists()


def test_skip_invalid_writes_the_valid_rows(tmp_path: Path, policies: Path, run: Run) -> None:
    text = "email\nok@example.org\nnot an address\n"
    status, out, err = run("policy", "import-group", "casework", _csv(tmp_path, text),
                           "--policies", str(policies), "--skip-invalid")
    assert status == 0
    assert "line 3: 'not an address'" in err
    assert "0 blank, 0 duplicate, 1 invalid rows skipped" in out
    assert _group(policies, "casework")["members"] == ["ok@example.org"]


def test_a_group_that_would_break_the_policy_is_not_written(
        tmp_path: Path, policies: Path, run: Run) -> None:
    before = (policies / "groups" / "communications.toml").read_text()
    text = "email\npress+campaign@example.org\n"
    status, _, err = run("policy", "import-group", "communications", _csv(tmp_path, text),
                         "--policies", str(policies))
    assert status == 1
    assert "groups/communications.toml:" in err and "can never match" in err
    assert "nothing written: the policy would be invalid with the new " \
           "groups/communications.toml" in err
    assert (policies / "groups" / "communications.toml").read_text() == before


def test_reimport_keeps_description_and_include(tmp_path: Path, policies: Path,
                                                run: Run) -> None:
    (policies / "groups" / "staff.toml").write_text(
        'description = "Everyone on staff"\ninclude = ["management"]\n'
        'members = ["old@example.org", "kept@example.org"]\n')
    text = "Work Email;Name\nkept@example.org;K\nnew@example.org;N\n"
    status, out, _ = run("policy", "import-group", "staff", _csv(tmp_path, text),
                         "--policies", str(policies))
    assert status == 0
    assert "(1 added, 1 removed;" in out
    group = _group(policies, "staff")
    assert group == {"description": "Everyone on staff", "include": ["management"],
                     "members": ["kept@example.org", "new@example.org"]}
    policy = load_policy(policies)
    assert "director@example.org" in policy.members_of("staff")  # through include


def test_dry_run_prints_and_writes_nothing(tmp_path: Path, policies: Path, run: Run) -> None:
    status, out, _ = run("policy", "import-group", "casework", _csv(tmp_path, GOOD),
                         "--policies", str(policies), "--dry-run", "--description",
                         'Case "workers"')
    assert status == 0
    assert 'description = "Case \\"workers\\""' in out
    assert out.splitlines()[-1].startswith("dry run, nothing written:")
    assert not (policies / "groups" / "casework.toml").exists()


@pytest.mark.parametrize(("header", "encoding"), [
    ("Email", "utf-8"), ("E-Mail Address", "utf-8-sig"), ("mail", "utf-16"),
    ("Courriel", "cp1252"), ("Correo electrónico", "utf-8"), ("address", "utf-8"),
])
def test_the_email_column_is_found_by_its_header(header: str, encoding: str, tmp_path: Path,
                                                 policies: Path, run: Run) -> None:
    text = f"Nom,{header}\nRenée,renee@example.org\n"
    status, _, err = run("policy", "import-group", "casework",
                         _csv(tmp_path, text, encoding=encoding), "--policies", str(policies))
    assert status == 0, err
    assert _group(policies, "casework")["members"] == ["renee@example.org"]


def test_separators_are_detected() -> None:
    for separator in ",;\t|":
        text = separator.join(["Name", "Email"]) + "\n" + separator.join(["A", "a@b.test"])
        assert read_directory_csv(text + "\n").members == ("a@b.test",)


def test_ambiguous_or_missing_columns_ask_for_column(tmp_path: Path, policies: Path,
                                                     run: Run) -> None:
    with pytest.raises(GroupImportError, match="several columns"):
        find_column(["Email (primary)", "Email (secondary)"])
    with pytest.raises(GroupImportError, match="several columns"):
        find_column(["Email", "email"])
    assert find_column(["Personal email", "Work email"]) == 1  # a work address is preferred
    with pytest.raises(GroupImportError, match="no email column found"):
        find_column(["Name", "Phone"])
    with pytest.raises(GroupImportError, match="no column named 'Mail'"):
        find_column(["Name", "Phone"], "Mail")
    assert find_column(["Work email", "Personal email"], "personal email") == 1
    text = "Name,Email (work),Email (home)\nA,a@example.org,a@home.test\n"
    status, _, err = run("policy", "import-group", "casework", _csv(tmp_path, text),
                         "--policies", str(policies))
    assert status == 1
    assert "choose one with --column" in err
    status, _, _ = run("policy", "import-group", "casework", _csv(tmp_path, text),
                       "--policies", str(policies), "--column", "email (work)")
    assert status == 0
    assert _group(policies, "casework")["members"] == ["a@example.org"]


@pytest.mark.parametrize(("text", "words"), [
    ("", "the CSV file is empty"),
    ("email,notes\na@example.org,\"" + "x" * 200_000 + "\"\n",
     "line 2: not readable as CSV (field larger than field limit"),
    ("email\n\n,\n", "nothing written: no addresses in column 'email'"),
])
def test_an_empty_export_writes_nothing(text: str, words: str, tmp_path: Path,
                                        policies: Path, run: Run) -> None:
    status, _, err = run("policy", "import-group", "casework", _csv(tmp_path, text),
                         "--policies", str(policies))
    assert status == 1
    assert words in err
    assert not (policies / "groups" / "casework.toml").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["Case Work", "x.csv"], "'Case Work' is not a group name"),
    (["casework", "/nonexistent/x.csv"], "/nonexistent/x.csv: No such file"),
])
def test_bad_arguments_exit_2(args: list[str], words: str, policies: Path, run: Run) -> None:
    status, _, err = run("policy", "import-group", *args, "--policies", str(policies))
    assert status == 2
    assert words in err


def test_a_missing_policy_directory_exits_2(tmp_path: Path, run: Run) -> None:
    status, _, err = run("policy", "import-group", "casework", _csv(tmp_path, GOOD),
                         "--policies", str(tmp_path / "nowhere"))
    assert status == 2
    assert "policy directory" in err and "not found" in err
