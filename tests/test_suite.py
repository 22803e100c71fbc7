"""Suites: loading and refusing files, selection and shards, running, JUnit, exit codes."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd_cli.execution import runner
from autograd_cli.suite.config import ConfigError
from autograd_cli.suite.run import load_suite, parse_shard, run_cases, select, shard

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
PLUGINS = {"GRADCHECK_PLUGINS": "ghost=tests.fake_backends:Missing"}


def write(folder: Path, text: str, name: str = "suite.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def check_junit(path: Path) -> ET.Element:
    """The structure CI systems read (the common JUnit schema): required attributes
    present and well-formed, and every count matching the testcases it summarizes."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    suites = root.findall("testsuite")
    assert suites
    for suite in suites:
        for attribute in ("name", "tests", "failures", "errors", "time"):
            assert suite.get(attribute) is not None, attribute
        assert float(suite.get("time", "")) >= 0
        cases = suite.findall("testcase")
        counted = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            assert case.get("name") and case.get("classname")
            assert float(case.get("time", "")) >= 0
            outcomes = [child for child in case if child.tag in ("failure", "error", "skipped")]
            assert len(outcomes) <= 1
            for child in outcomes:
                if child.tag in ("failure", "error"):
                    assert child.get("message"), ET.tostring(case)
                    assert child.get("type")
                counted[{"failure": "failures", "error": "errors"}.get(child.tag, "skipped")] += 1
        for key, value in counted.items():
            assert int(suite.get(key, "0")) == value, (key, suite.attrib)
            totals[key] += value
    for key, value in totals.items():
        assert int(root.get(key, "-1")) == value
    return root


def cases_by_name(root: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in root.iter("testcase")}


# ------------------------------------------------------------------------- shipped files


def test_every_shipped_config_loads_and_passes(gradcheck, tmp_path):
    files = sorted(CONFIGS.glob("*.toml"))
    assert {"smoke.toml", "tutorial.toml", "example.toml"} <= {f.name for f in files}
    smoke = load_suite(CONFIGS / "smoke.toml")
    assert len({case.name for case in smoke.cases}) >= 12
    assert {case.request.dtype for case in smoke.cases} == {"float32", "float64"}
    assert any(case.request.size == 8000 for case in smoke.cases)
    junit = tmp_path / "gradcheck.xml"
    result = gradcheck("suite", *map(str, files), "--junit", str(junit), cwd=tmp_path,
                       timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    total = sum(len(load_suite(f).cases) for f in files)
    assert result.stderr.count("PASSED") == total
    assert result.stdout.rstrip().splitlines()[-1] == f"OK: {total} cases passed"
    root = check_junit(junit)
    assert root.get("tests") == str(total) and root.get("failures") == "0"
    assert {s.get("name") for s in root.iter("testsuite")} >= {"smoke", "tutorial"}
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "tutorial-tensorflow.png", "tutorial-torch.png"
    ]


# --------------------------------------------------------------------------- running


BAD_SUITE = """
    name = "bad"
    [defaults]
    backends = ["analytic", "torch"]

    [[case]]
    name = "right"
    expression = "2*x**3+4*x**2+5*x+6"
    at = 0.5
    expect = 10.5

    [[case]]
    name = "wrong number"
    expression = "2*x**3+4*x**2+5*x+6"
    at = [0.5, 1]
    expect = [10.5, 20]

    [[case]]
    name = "wrong formula"
    expression = "sin(x)"
    at = 0.5
    expect = "-cos(x)"

    [[case]]
    name = "strict"
    expression = "sin(x)"
    at = [0.5, 2.5]
    rtol = 0
    atol = 0
    max-ulps = 0
"""


def test_wrong_expect_and_mismatch_fail_with_exit_1_and_junit_failures(gradcheck, tmp_path):
    path = write(tmp_path, BAD_SUITE)
    junit = tmp_path / "out" / "gradcheck.xml"
    junit.parent.mkdir()
    result = gradcheck("suite", str(path), "--junit", str(junit))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("[1/4] PASSED") and "bad::right" in line for line in lines)
    assert any("FAILED" in line and "wrong number" in line and "20.0" in line for line in lines)
    root = check_junit(junit)
    assert root.get("tests") == "4" and root.get("failures") == "3"
    cases = cases_by_name(root)
    assert cases["right"].find("failure") is None
    number = cases["wrong number"].find("failure")
    assert number is not None
    assert "should be 20.0" in number.get("message", "")
    assert "the exact derivative is 19.0" in number.get("message", "")
    assert "torch" in (number.text or "") and "backward()" in (number.text or "")
    formula = cases["wrong formula"].find("failure")
    assert formula is not None and "cos(x)" in formula.get("message", "")
    strict = cases["strict"].find("failure")
    assert strict is not None and "rows inaccurate" in strict.get("message", "")
    assert strict.get("type") == "inaccurate" and "inaccurate" in (strict.text or "")
    assert "FAIL: 1 of 4 passed" in result.stdout


def test_exitfirst_skips_the_rest(gradcheck, tmp_path):
    path = write(tmp_path, BAD_SUITE.replace('"analytic", "torch"', '"analytic"'))
    junit = tmp_path / "j.xml"
    result = gradcheck("suite", str(path), "-x", "--junit", str(junit), "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [case["outcome"] for case in data["cases"]] == ["passed", "failed", "skipped",
                                                           "skipped"]
    assert data["summary"] == {"total": 4, "passed": 1, "failed": 1, "error": 0,
                               "skipped": 2}
    assert data["cases"][0]["report"]["results"][0]["derivative"] == 10.5
    root = check_junit(junit)
    assert root.get("skipped") == "2"


def test_worst_case_wins_and_backend_failure_is_a_junit_error(gradcheck, tmp_path):
    path = write(tmp_path, """
        [[case]]
        name = "mismatch"
        expression = "x**2"
        at = 3
        expect = 7
        backends = ["analytic"]

        [[case]]
        name = "missing framework"
        expression = "x**2"
        at = 3
        backends = ["analytic", "ghost"]
    """)
    junit = tmp_path / "j.xml"
    result = gradcheck("suite", str(path), "--junit", str(junit), env=PLUGINS)
    assert result.returncode == 3, result.stderr
    cases = cases_by_name(check_junit(junit))
    assert cases["mismatch"].find("failure") is not None
    error = cases["missing framework"].find("error")
    assert error is not None and "could not run: ghost" in error.get("message", "")
    assert "not installed" in (error.text or "")


def test_suite_loads_each_framework_once(tmp_path):
    path = write(tmp_path, """
        [defaults]
        backends = ["analytic", "torch"]
        dtype = ["float32", "float64"]

        [[case]]
        name = "poly"
        expression = "2*x**3+4*x**2+5*x+6"
        at = [0.5, 1]

        [[case]]
        name = "exp"
        expression = "exp(x)"
        at = 1
        expect = "exp(x)"
    """)
    cases = load_suite(path).cases
    with runner.Pool(["torch"]) as pool:
        results = run_cases(cases, pool=pool)
        assert pool.spawns == {"torch": 1}
    assert [r.outcome for r in results] == ["passed"] * 4
    assert [r.report.rows[1].derivative for r in results if r.report][:2] == [10.5, 10.5]


# ----------------------------------------------------------------- selection and shards


def test_keyword_selection_and_list(gradcheck, tmp_path):
    path = write(tmp_path, """
        [defaults]
        dtype = ["float32", "float64"]
        [[case]]
        name = "Sine"
        expression = "sin(x)"
        at = 1
        [[case]]
        name = "cos"
        expression = "cos(x)"
        at = 1
    """)
    cases = load_suite(path).cases
    assert [c.id for c in select(cases, ["sINe"])] == ["Sine [float32]", "Sine [float64]"]
    assert [c.id for c in select(cases, ["float64"])] == ["Sine [float64]", "cos [float64]"]
    assert len(select(cases, ["suite::"])) == 4
    result = gradcheck("suite", str(path), "--list", "-k", "COS", "--shard", "2/2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "suite::cos [float64]\n"
    nothing = gradcheck("suite", str(path), "-k", "tangent")
    assert nothing.returncode == 2
    assert "no case matches" in nothing.stderr and nothing.stdout == ""


@given(total=st.integers(min_value=0, max_value=60), n=st.integers(min_value=1, max_value=12))
def test_shards_cover_every_case_exactly_once(total: int, n: int) -> None:
    cases = [f"case {i}" for i in range(total)]
    slices = [shard(cases, k, n) for k in range(1, n + 1)]  # type: ignore[arg-type]
    dealt = [case for part in slices for case in part]
    assert sorted(dealt) == sorted(cases)
    assert len(dealt) == len(set(dealt))
    assert max(map(len, slices)) - min(map(len, slices)) <= 1
    for part in slices:
        assert part == sorted(part, key=cases.index)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "1", "1/2/3", ""])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="K"):
        parse_shard(text)


def test_shard_parses() -> None:
    assert parse_shard(" 2 / 5 ") == (2, 5)


# ------------------------------------------------------------------------- bad files


def refusal(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_suite(path)
    return caught.value


def test_toml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, """
        [[case]]
        name = "a"
        expression = sin(x)
        at = 0.5
    """)
    error = refusal(path)
    text = error.render()
    assert text.startswith(f"error: {path}: line 4, column 14: invalid TOML")
    assert "  expression = sin(x)\n" in text and "\n               ^\n" in text
    assert "strings need quotes" in text


def test_unknown_key_suggests_the_nearest(tmp_path):
    error = refusal(write(tmp_path, """
        [[case]]
        name = "a"
        expression = "sin(x)"
        at = 0.5
        dtypes = ["float64"]
    """))
    assert error.where == "case 'a'"
    assert error.message == "unknown case option 'dtypes'"
    assert error.hint is not None and error.hint.startswith("did you mean 'dtype'? known: ")
    error = refusal(write(tmp_path, """
        [defaults]
        dtpye = "float64"
        [[case]]
        name = "a"
        expression = "sin(x)"
        at = 0.5
    """))
    assert error.where == "[defaults]"
    assert error.hint is not None and error.hint.startswith("did you mean 'dtype'?")
    error = refusal(write(tmp_path, '[[cases]]\nname = "a"\n'))
    assert "unknown top-level key 'cases'" in error.message
    assert error.hint is not None and "did you mean 'case'?" in error.hint


@pytest.mark.parametrize(
    ("line", "message", "hint"),
    [
        ('rtol = "1e-3"', "rtol: expected a number >= 0, got the string '1e-3'",
         "without quotes"),
        ("timeout = 0", "timeout: expected a number > 0, got 0", None),
        ('dtype = "float8"', "dtype: unknown dtype 'float8'", None),
        ("dtype = 64", "dtype: expected one of float16, bfloat16, float32, float64, got the "
         "integer 64", '"float16"'),
        ('backends = ["torch", "tensorfow"]', "did you mean 'tensorflow'?", None),
        ("at = []", "at: expected at least one point", None),
        ("at = [true]", "at: expected a number", None),
        ('expect = [1, "a"]', "expect: expected a number, a list of numbers", None),
        ("range = [4, -4]", "range: expected finite start < stop", None),
    ],
)
def test_wrong_types_are_named(tmp_path, line: str, message: str, hint: str | None) -> None:
    error = refusal(write(tmp_path, f"""
        [[case]]
        name = "a"
        expression = "sin(x)"
        {line}
    """.replace("\n        ", "\n")))
    assert message in error.headline()
    assert error.headline().startswith(f"{tmp_path / 'suite.toml'}: case 'a': ")
    if hint:
        assert error.hint is not None and hint in error.hint


def test_case_problems(tmp_path):
    def case(body: str) -> ConfigError:
        return refusal(write(tmp_path, '[[case]]\nname = "c"\n' + textwrap.dedent(body)))

    error = case('at = 0.5\n')
    assert error.message == "no expression" and error.where == "case 'c'"
    assert error.hint is not None and "expression =" in error.hint
    error = refusal(write(tmp_path, '[[case]]\nexpression = "x"\nat = 1\n'))
    assert error.message == "no name" and error.where == "case #1"
    error = case('expression = "sin(x)"\n')
    assert error.message == "no points" and "at = [0.5]" in (error.hint or "")
    error = case('expression = "x*y"\nat = 1\n')
    assert 'e.g. at = ["x=1,y=1"]' in error.message
    error = case('expression = "x*y"\nwrt = "x"\nat = 1\nrange = [0, 1]\n')
    assert error.message.startswith("at '1.0': with range, at fixes the other variables")
    error = case('expression = "x"\nrange = [0, 1]\nnum = 3\nstep = 0.5\n')
    assert error.message == "give num or step, not both"
    error = case('expression = "x"\nat = 1\nstep = 0.5\n')
    assert error.message == "num and step go with range"
    error = case('expression = "x*y"\nat = "x=1,y=2"\nexpect = 3\n')
    assert "say which" in error.message and "expect = { x =" in (error.hint or "")
    error = case('expression = "x"\nat = [1, 2]\nexpect = [1, 2, 3]\n')
    assert error.message == "3 numbers for 2 points"
    error = case('expression = "x"\nat = 1\nexpect = "y + 1"\n')
    assert "the formula uses y" in error.message
    error = refusal(write(tmp_path, '[[case]]\nname = "c"\nexpression = "x"\nat = 1\n' * 2))
    assert error.message == "two cases are named 'c'"


def test_bad_expression_shows_its_caret(tmp_path):
    error = refusal(write(tmp_path, """
        [[case]]
        name = "typo"
        expression = "2*x + sinn(x)"
        at = 0.5
    """))
    assert error.where == "case 'typo': expression"
    assert "sinn" in error.message
    assert error.excerpt == ("2*x + sinn(x)", "      ^^^^")
    assert error.hint is not None and error.hint.startswith("did you mean sin")


def test_empty_suite(tmp_path):
    error = refusal(write(tmp_path, 'name = "nothing"\n[defaults]\ndtype = "float64"\n'))
    assert error.message == "the suite has no cases"


def test_bad_file_through_the_command(gradcheck, tmp_path):
    path = write(tmp_path, """
        [[case]]
        name = "typo"
        expression = "2*x + sinn(x)"
        at = 0.5
    """)
    junit = tmp_path / "j.xml"
    result = gradcheck("suite", str(path), "--junit", str(junit))
    assert result.returncode == 2
    assert result.stdout == "" and not junit.exists()
    assert result.stderr.startswith(
        f"error: {path}: case 'typo': expression: unknown function 'sinn'\n"
        "  2*x + sinn(x)\n"
        "        ^^^^\n"
        "hint: did you mean sin"
    )
    missing = gradcheck("suite", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "nope.toml: no such file" in missing.stderr


# --------------------------------------------------------------- collisions, signals


def test_outputs_that_would_land_in_one_file_are_refused_before_any_work(gradcheck, tmp_path):
    suite = write(tmp_path, """
        [defaults]
        backends = ["analytic"]
        range = [0, 1]
        num = 5
        [[case]]
        name = "a"
        expression = "x**2"
        plot = "same.png"
        [[case]]
        name = "b"
        expression = "x**3"
        plot = "same.png"
    """)
    result = gradcheck("suite", str(suite), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: the plot of case suite::a and the plot of case suite::b write the same "
        "file (same.png); give each output its own file")
    assert not (tmp_path / "same.png").exists()

    one = write(tmp_path, '[[case]]\nname = "a"\nexpression = "x"\nat = 1\n', "one.toml")
    (tmp_path / "j.xml").write_text("old")
    (tmp_path / "link.xml").symlink_to("j.xml")
    for junit, output in (("j.xml", "./j.xml"), ("j.xml", "link.xml")):
        result = gradcheck("suite", str(one), "--junit", junit, "-o", output, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: --junit and --output write the same file")
        assert (tmp_path / "j.xml").read_text() == "old"
    result = gradcheck("suite", "one.toml", "--junit", "j.xml", "-o", "other.txt",
                       "-k", "nothing-matches-this", cwd=tmp_path)
    assert result.returncode == 2 and "no case matches" in result.stderr  # not a collision


def test_the_same_suite_file_twice_is_refused(gradcheck, tmp_path):
    one = write(tmp_path, '[[case]]\nname = "a"\nexpression = "x"\nat = 1\n', "one.toml")
    for second in ("one.toml", "./one.toml", str(one)):
        result = gradcheck("suite", "one.toml", second, "--junit", "j.xml", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"error: {Path(second)} is given twice"), result.stderr
        assert not (tmp_path / "j.xml").exists()


def test_a_suite_stopped_by_a_signal_reports_what_finished(tmp_path):
    """As pytest does: the cases that finished in the summary and JUnit, the others
    skipped as interrupted, the run marked interrupted, exit 128 + N."""
    import os
    import signal
    import subprocess
    import sys

    suite = write(tmp_path, """
        [defaults]
        backends = ["analytic", "torch"]
        [[case]]
        name = "quick"
        expression = "x**2"
        at = [3]
        [[case]]
        name = "slow"
        expression = "sin(x)*exp(x)/(1+x**2)"
        order = 2
        range = [-4, 4]
        num = 10001
        [[case]]
        name = "after"
        expression = "x"
        at = [1]
    """)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gradcheck"), "suite", str(suite), "--junit",
         "j.xml", "--format", "json", "-o", "run.json"],
        cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stderr is not None
    said = [process.stderr.readline()]  # a case's line: "[1/3] PASSED  suite::quick"
    assert "PASSED" in said[0] and "suite::quick" in said[0], said
    process.send_signal(signal.SIGTERM)
    said.append(process.stderr.read())
    assert process.wait(timeout=60) == 143, said
    assert "Traceback" not in said[1] and said[1].strip().endswith("interrupted (SIGTERM)")

    report = json.loads((tmp_path / "run.json").read_text())
    assert (report["exit_code"], report["ok"], report["interrupted"]) == (143, False, "SIGTERM")
    outcomes = {case["id"]: (case["outcome"], case["message"]) for case in report["cases"]}
    assert outcomes.pop("quick")[0] == "passed"
    assert outcomes == {
                        "slow": ("skipped", "not run: interrupted (SIGTERM)"),
                        "after": ("skipped", "not run: interrupted (SIGTERM)")}
    assert report["verdict"].startswith("INTERRUPTED (SIGTERM) after 1 of 3 cases")
    root = check_junit(tmp_path / "j.xml")
    cases = cases_by_name(root)
    assert list(cases) == ["quick", "slow", "after"] and len(cases["quick"]) == 0
    assert cases["after"].find("skipped").get("message") == "not run: interrupted (SIGTERM)"
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties["interrupted"] == "SIGTERM"


KNOWN_SUITE = """
[[case]]
name = "tanh, a known error"
expression = "tanh(x)"
at = 3
backends = ["analytic", "torch"]
max-ulps = 1
known = { torch = "1 - tanh**2 loses bits" }

[[case]]
name = "square, a known error gone"
expression = "x**2"
at = 3
backends = ["analytic", "torch"]
known = { "torch float32" = "was wrong once" }
"""


def test_known_errors_pass_and_say_so(gradcheck, tmp_path):
    """`known` excuses that backend's failing rows (and only those), says it saw them,
    and says when they are gone; in the summary, JSON and JUnit."""
    import json
    suite = tmp_path / "known.toml"
    suite.write_text(KNOWN_SUITE)
    junit = tmp_path / "j.xml"
    result = gradcheck("suite", str(suite), "--junit", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED  known::tanh, a known error" in result.stderr
    assert "known: torch (1 - tanh**2 loses bits)" in result.stderr
    assert "known failure not seen: torch passes now (was wrong once)" in result.stderr
    assert "(known: torch)" in result.stdout
    assert "passed (known failure not seen: torch)" in result.stdout
    root = check_junit(junit)
    assert root.get("failures") == "0"
    assert any(p.get("name") == "known" for p in root.iter("property"))
    data = json.loads(gradcheck("suite", str(suite), "--format", "json").stdout)
    assert [c["known"][0].split(" (")[0] for c in data["cases"]] == [
        "known: torch", "known failure not seen: torch passes now"]
    # Another backend's failure is not excused.
    suite.write_text(KNOWN_SUITE.replace('known = { torch = "1 - tanh**2 loses bits" }',
                                         'known = { tensorflow = "not this one" }'))
    assert gradcheck("suite", str(suite)).returncode == 1
    suite.write_text(KNOWN_SUITE.replace('"torch float32"', '"pytorch"'))
    refused = gradcheck("suite", str(suite))
    assert refused.returncode == 2 and "unknown backend 'pytorch'" in refused.stderr
