"""``stampgate policy test``: the shipped cases pass; failing and invalid cases are reported."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.policyfiles.load import load_policy
from gateway.policyfiles.testing import Case, Scenario, compare, decide_scenario, run_cases
from tests.policyfiles.conftest import EXAMPLE, Run

FAILING = '''
[[case]]
name = "communications receives internal mail"
from = "amira@example.org"
to = ["press@example.org", "director@example.org"]
stamp = "Internal"
expect = { "press@example.org" = "allow", "director@example.org" = "allow" }
expect_verdict = "allow"
expect_stamp = "confidential"
expect_rules = ["internal.thread"]

[[case]]
name = "passes"
from = "amira@example.org"
to = ["director@example.org"]
stamp = "internal"
expect = { "director@example.org" = "allow" }
'''


def test_the_shipped_cases_pass(run: Run) -> None:
    status, out, _ = run("policy", "test", str(EXAMPLE))
    assert status == 0, out
    last = out.splitlines()[-1]
    match = re.fullmatch(r"(\d+) passed, 0 failed \(policy version (\w+)\)", last)
    assert match, last
    assert int(match.group(1)) >= 30
    assert match.group(2) == load_policy(EXAMPLE).version
    assert f"{EXAMPLE}/tests/worked-example.toml" in out.splitlines()
    assert "FAIL" not in out


def test_the_shipped_cases_cover_every_stamp_and_audience() -> None:
    policy = load_policy(EXAMPLE)
    results = run_cases(policy, EXAMPLE)
    fired = {rule for r in results if r.decision for rule in r.decision.rules}
    for stamp in ("cleared", "needs_adjustment", "internal", "confidential", "unstamped"):
        for audience in ("organisation", "external"):
            assert f"{stamp}.{audience}" in fired
    for stamp in ("needs_adjustment", "internal", "confidential", "unstamped"):
        assert f"{stamp}.groups.communications" in fired
    assert {"confidential.thread", "unreadable.external", "thread-inherit", "downgrade",
            "downgrade-permitted"} <= fired


def test_a_failing_case_says_what_differs(policies: Path, run: Run) -> None:
    (policies / "tests" / "zz-mine.toml").write_text(FAILING, encoding="utf-8")
    status, out, _ = run("policy", "test", str(policies))
    assert status == 1
    lines = out.splitlines()
    at = lines.index(f"  FAIL  communications receives internal mail "
                     f"({policies}/tests/zz-mine.toml:2)")
    failures = lines[at + 1:at + 5]
    assert failures == [
        "        - stamp: expected confidential, got internal",
        "        - message: expected allow, got bounce",
        "        - press@example.org: expected allow, got bounce (rule "
        "internal.groups.communications; Internal may not go to the communications group)",
        "        - rules: expected internal.thread to fire; fired: internal.groups.communications,"
        " internal.organisation",
    ]
    assert lines[at + 5] == "  PASS  passes"
    assert re.fullmatch(r"\d+ passed, 1 failed \(policy version \w+\)", lines[-1])


def test_verbose_explains_the_failed_decision(policies: Path, run: Run) -> None:
    (policies / "tests" / "zz-mine.toml").write_text(FAILING, encoding="utf-8")
    status, out, _ = run("policy", "test", str(policies), "-k", "receives internal", "-v")
    assert status == 1
    assert "        | outcome:  BOUNCE" in out
    assert out.splitlines()[-1].startswith("0 passed, 1 failed")


def test_keyword_selects_cases(run: Run) -> None:
    status, out, _ = run("policy", "test", str(EXAMPLE), "-k", "ARABIC")
    assert status == 1  # no case is named that: nothing ran
    assert "no cases found" in out
    status, out, _ = run("policy", "test", str(EXAMPLE), "-k", "العربية")
    assert status == 0
    assert out.splitlines()[-1].startswith("3 passed, 0 failed")


def test_invalid_cases_fail_with_their_problem(policies: Path, run: Run) -> None:
    (policies / "tests" / "bad.toml").write_text('''
[[case]]
name = "no expectation"
from = "amira@example.org"
to = ["press@example.org"]
stamp = "internal"

[[case]]
name = "two sources"
from = "amira@example.org"
to = ["press@example.org"]
stamp = "internal"
message = "Subject: x\\n\\nhello\\n"
expect_verdict = "bounce"

[[case]]
name = "bad verdict and unknown key"
from = "amira@example.org"
to = ["press@example.org"]
stamp = "internal"
expect = { "press@example.org" = "refuse" }
expected_verdict = "bounce"

[[case]]
name = "expects someone not in to"
from = "amira@example.org"
to = ["press@example.org"]
stamp = "internal"
expect = { "comms@example.org" = "bounce" }

[[case]]
name = "bad address"
from = "amira@example.org"
to = ["press@@example.org"]
stamp = "internal"
expect_verdict = "bounce"

[[case]]
name = "unknown stamp"
from = "amira@example.org"
to = ["press@example.org"]
stamp = "Top secret"
expect_verdict = "bounce"

[[case]]
name = "missing message file"
from = "amira@example.org"
to = ["press@example.org"]
message_file = "messages/none.eml"
expect_verdict = "bounce"
''', encoding="utf-8")
    status, out, _ = run("policy", "test", str(policies), "-k", "")
    assert status == 1
    expected = [
        "expects nothing: add expect, expect_verdict, expect_stamp or expect_rules",
        "give exactly one of stamp, message, message_file",
        "case.2.expect.press@example.org: is not a verdict (value: 'refuse')",
        "case.2.expected_verdict: is not a known key (value: 'bounce'); "
        "hint: did you mean 'expect_verdict'?",
        "expect names 'comms@example.org', which is not in to",
        "invalid case: to 'press@@example.org': not a valid address",
        "invalid case: 'Top secret' is not a stamp of this policy",
        "invalid case: [Errno 2] No such file or directory",
    ]
    for words in expected:
        assert words in out, (words, out)
    assert "bad.toml:21: case.2.expect.press@example.org" in out
    assert out.splitlines()[-1].startswith(f"{len(run_cases(load_policy(EXAMPLE), EXAMPLE))}"
                                           " passed, 7 failed")


def test_a_case_file_that_is_not_toml_is_one_failure(policies: Path, run: Run) -> None:
    (policies / "tests" / "broken.toml").write_text("[[case]\nname = 1\n", encoding="utf-8")
    (policies / "tests" / "empty.toml").write_text("title = 'x'\n", encoding="utf-8")
    status, out, _ = run("policy", "test", str(policies))
    assert status == 1
    assert "  FAIL  (file) (" in out
    assert "cannot read the cases: " in out
    assert "unknown top-level keys title; write each case as [[case]]" in out
    assert ", 2 failed" in out.splitlines()[-1]


def test_message_file_is_relative_to_the_case_file(policies: Path, run: Run) -> None:
    (policies / "tests" / "messages").mkdir()
    (policies / "tests" / "messages" / "x.eml").write_bytes(
        b"From: amira@example.org\r\nSubject: Internal: rota\r\n\r\nhi\r\n")
    (policies / "tests" / "files.toml").write_text('''
[[case]]
name = "from a file"
from = "amira@example.org"
to = ["reporter@news.test"]
message_file = "messages/x.eml"
expect_stamp = "internal"
expect = { "reporter@news.test" = "bounce" }
''', encoding="utf-8")
    status, out, _ = run("policy", "test", str(policies), "-k", "from a file")
    assert status == 0
    assert out.splitlines()[-1].startswith("1 passed, 0 failed")


def test_no_cases_is_a_failure(policies: Path, run: Run) -> None:
    for path in (policies / "tests").glob("*.toml"):
        path.unlink()
    status, out, _ = run("policy", "test", str(policies))
    assert status == 1
    assert out.startswith(f"no cases found in {policies}/tests/*.toml")


def test_an_invalid_policy_runs_no_cases(policies: Path, run: Run) -> None:
    (policies / "groups" / "management.toml").write_text("members = []\n")
    status, out, err = run("policy", "test", str(policies))
    assert status == 1
    assert out == ""
    assert "groups/management.toml:1: members: the group is empty" in err


def test_expected_addresses_are_folded_like_recipients() -> None:
    policy = load_policy(EXAMPLE)
    case = Case.model_validate({
        "name": "x", "from": "amira@example.org", "to": ["Press+X@EXAMPLE.org."],
        "stamp": "internal", "expect": {"Press+X@EXAMPLE.org.": "bounce"}})
    decision = decide_scenario(policy, Scenario("amira@example.org", case.to, "internal"))
    assert compare(case, decision, None) == []
