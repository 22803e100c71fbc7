"""The reusable GitHub Actions step (action.yml): every input it uses is declared, the
options it passes exist, and its run step, executed here as the runner would (inputs
substituted, a $GITHUB_OUTPUT file), runs a suite, writes the JUnit report and passes
gradcheck's exit code through."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTION = (ROOT / "action.yml").read_text(encoding="utf-8")
GRADCHECK = Path(sys.executable).parent / "gradcheck"


def declared_inputs() -> dict[str, str]:
    """Input name -> its default ("" when it has none), read from the inputs block."""
    block = ACTION.split("\ninputs:\n", 1)[1].split("\noutputs:\n", 1)[0]
    found: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        head = re.match(r"  ([a-z-]+):$", line)
        if head:
            name = head.group(1)
            found[name] = ""
        default = re.match(r'    default: "?(.*?)"?$', line)
        if default and name:
            found[name] = default.group(1)
    return found


def run_step() -> str:
    """The shell script of the step that runs the suites."""
    after = ACTION.split("      id: run\n", 1)[1]
    script = after.split("      run: |\n", 1)[1]
    lines = []
    for line in script.splitlines():
        if line.strip() and not line.startswith("        "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


def substitute(script: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{\{ inputs\.([a-z-]+) \}\}", lambda m: values[m.group(1)], script)


def test_every_input_used_is_declared_and_the_options_exist() -> None:
    inputs = declared_inputs()
    used = set(re.findall(r"\$\{\{ inputs\.([a-z-]+) \}\}", ACTION))
    assert used <= set(inputs), used - set(inputs)
    assert {"suites", "frameworks", "junit", "plots"} <= used
    help_text = subprocess.run([str(GRADCHECK), "suite", "--help"], capture_output=True,
                               text=True, check=True).stdout
    for option in re.findall(r"gradcheck suite .*?(--[a-z-]+)", ACTION):
        assert option in help_text
    assert '"${{ github.action_path }}[plot]"' in ACTION  # the extra exists:
    assert re.search(r"^plot = ", (ROOT / "pyproject.toml").read_text(), re.M)


def test_the_run_step_runs_the_suite_and_passes_the_exit_code_through(tmp_path: Path) -> None:
    (tmp_path / "ok.toml").write_text('[[case]]\nname = "square"\nexpression = "x**2"\n'
                                      'at = [3]\nbackends = ["analytic"]\n')
    (tmp_path / "bad.toml").write_text('[[case]]\nname = "square"\nexpression = "x**2"\n'
                                       'at = [3]\nexpect = 7\nbackends = ["analytic"]\n')
    env = {**os.environ, "PATH": f"{GRADCHECK.parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    for suite, expected in (("ok.toml", 0), ("bad.toml", 1)):
        output = tmp_path / f"{suite}.out"
        env["GITHUB_OUTPUT"] = str(output)
        values = {**declared_inputs(), "suites": suite}
        script = substitute(run_step(), values)
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert done.returncode == expected, done.stderr
        assert output.read_text() == f"exit-code={expected}\n"
        assert (tmp_path / "gradcheck.xml").read_text().startswith("<?xml")
