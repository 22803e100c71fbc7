"""The manual tells the truth: every command it shows runs and exits as it says.

A command is a line of a fenced code block in README.md or docs/*.md that starts with
``gradcheck `` or ``$ gradcheck ``; blocks fenced as ```text (output, a synopsis) hold
none. A trailing ``# comment`` is not part of the command, and ``exit N`` in it is the
exit code the docs promise (0 where it says none). ``<!-- doc-test: skip (reason) -->``
on the line before a block leaves that block's commands out. The lines shown after a
``$ gradcheck`` line (up to the next ``$`` or the block's end) are its output: each one
outside a table and other than ``...`` must be a line the command printed.

Each command runs once, through the installed ``gradcheck``, with stdin closed, in a
working directory of its own that holds a copy of configs/ and an empty docs/, so the
files it writes land there. They run a few at a time, with the background service on
(a private one): the first commands run cold and start it, the rest are served warm.
Also checked: the README's first screen, and that every relative link leads somewhere.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = Path(sys.executable).parent / "gradcheck"  # as in conftest.py
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
TUTORIAL_PLOT = ROOT / "docs" / "tutorial.png"
MAKE_BLOCK = [
    "make run     # sets everything up on a fresh machine, then runs the tutorial's example",
    "make test    # sets everything up, then runs the linters and the whole test suite",
]
PARALLEL = 3
TIMEOUT_S = 150
SKIP_MARK = re.compile(r"<!--\s*doc-test:\s*skip\s*\((.+)\)\s*-->")
EXIT_MARK = re.compile(r"\bexit (\d+)\b")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
TABLE_CHARS = set("│┃━")
WRITES = ("-o", "--output", "--plot", "--junit")


@dataclass(frozen=True)
class CodeBlock:
    path: Path
    line: int  # of the opening fence, 1-based
    info: str  # what follows the fence: "", "text", "toml", ...
    lines: tuple[str, ...]
    skip: str | None  # the reason, when a doc-test marker says to skip it


@dataclass(frozen=True)
class DocCommand:
    where: str  # "docs/usage.md:12"
    args: tuple[str, ...]  # without the leading "gradcheck"
    exit_code: int
    shown_output: tuple[str, ...]
    skip: str | None


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def code_blocks(path: Path) -> Iterator[CodeBlock]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    for number, line in enumerate(lines, 1):
        if not line.startswith("```"):
            continue
        if start is None:
            start = number
            continue
        before = lines[start - 2] if start >= 2 else ""
        marker = SKIP_MARK.search(before)
        yield CodeBlock(path, start, lines[start - 1][3:].strip(), tuple(lines[start:number - 1]),
                        marker.group(1) if marker else None)
        start = None
    assert start is None, f"{relative(path)}:{start}: a code block is never closed"


def prose(path: Path) -> str:
    """The file with its code blocks blanked out: what is left is text, links, headings."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for block in code_blocks(path):
        for index in range(block.line - 1, block.line + len(block.lines) + 1):
            lines[index] = ""
    return "\n".join(lines)


def split_comment(line: str) -> tuple[str, str]:
    """``cmd "a # b"  # note`` -> (``cmd "a # b"``, ``note``): the first unquoted ``#``
    after a space starts the comment."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1:].strip()
    return line.rstrip(), ""


def commands_in(block: CodeBlock) -> Iterator[DocCommand]:
    if block.info == "text":
        return
    lines = block.lines
    for index, line in enumerate(lines):
        transcript = line.startswith("$ gradcheck ")
        if not (transcript or line.startswith("gradcheck ")):
            continue
        command, comment = split_comment(line.removeprefix("$ "))
        shown: list[str] = []
        if transcript:
            for following in lines[index + 1:]:
                if following.startswith("$ "):
                    break
                shown.append(following)
        marker = EXIT_MARK.search(comment)
        yield DocCommand(
            where=f"{relative(block.path)}:{block.line + 1 + index}",
            args=tuple(shlex.split(command)[1:]),
            exit_code=int(marker.group(1)) if marker else 0,
            shown_output=tuple(shown),
            skip=block.skip,
        )


def documented_commands() -> list[DocCommand]:
    return [command for path in DOCS for block in code_blocks(path)
            for command in commands_in(block)]


COMMANDS = documented_commands()


def run_in_own_folder(args: tuple[str, ...], folder: Path,
                      service: dict[str, str]) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "configs", folder / "configs")
    (folder / "docs").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **service}
    env.pop("NO_COLOR", None)
    try:
        return subprocess.run([str(GRADCHECK), *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, env=env, timeout=TIMEOUT_S, cwd=folder)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", f"(still running after {TIMEOUT_S} s)")


@pytest.fixture(scope="module")
def ran(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        ) -> dict[tuple[str, ...], tuple[subprocess.CompletedProcess[str], Path]]:
    """The commands of the selected tests, unless skipped, each run once (the same command
    shown twice runs once), a few at a time."""
    selected = [item.callspec.params["command"] for item in request.session.items
                if "command" in getattr(getattr(item, "callspec", None), "params", {})]
    unique = list(dict.fromkeys(command.args for command in selected if command.skip is None))
    folders = [tmp_path_factory.mktemp("doc-command") for _ in unique]
    # As a user runs them: the first command starts the background service and the
    # others are served by it (the same output, byte for byte, as a cold run; the
    # frameworks load once, not once per command). A private one, stopped afterwards.
    runtime = tmp_path_factory.mktemp("service")
    runtime.chmod(0o700)
    service = {"GRADCHECK_SERVICE": "1", "XDG_RUNTIME_DIR": str(runtime)}
    try:
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            done = list(pool.map(run_in_own_folder, unique, folders, [service] * len(unique)))
    finally:
        subprocess.run([str(GRADCHECK), "service", "stop"], capture_output=True, timeout=60,
                       env={**os.environ, **service}, check=False)
    return {args: (result, folder)
            for args, result, folder in zip(unique, done, folders, strict=True)}


def test_the_docs_show_commands() -> None:
    """The extraction finds the commands (a regression here would silently test nothing)."""
    assert len(COMMANDS) >= 20
    assert {1, 2} <= {command.exit_code for command in COMMANDS}
    assert any(command.shown_output for command in COMMANDS)
    skipped = [command.where for command in COMMANDS if command.skip]
    assert len(skipped) <= 3, f"skip sparingly: {skipped}"


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=[command.where for command in COMMANDS])
def test_command_runs_as_documented(
    command: DocCommand,
    ran: dict[tuple[str, ...], tuple[subprocess.CompletedProcess[str], Path]],
) -> None:
    if command.skip:
        pytest.skip(command.skip)
    result, folder = ran[command.args]
    told = f"gradcheck {shlex.join(command.args)}\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert result.returncode == command.exit_code, told
    assert "Traceback" not in result.stderr, told
    printed = {line.rstrip() for line in (result.stdout + result.stderr).splitlines()}
    for shown in command.shown_output:
        if shown.strip() in ("", "...") or TABLE_CHARS & set(shown):
            continue
        assert shown.rstrip() in printed, f"{command.where}: not printed: {shown!r}\n{told}"
    if command.exit_code in (0, 1):
        for option, value in pairwise(command.args):
            if option in WRITES:
                assert (folder / value).stat().st_size > 0, f"{value} not written\n{told}"


def test_readme_is_a_first_screen() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200
    first = next(code_blocks(README))
    assert list(first.lines) == MAKE_BLOCK
    assert first.line <= 15, "make run and make test belong on the first screen"
    assert "](requirements.lock)" in prose(README), "the README links the lock"
    assert "](docs/tutorial.png)" in prose(README)


def test_tutorial_plot_is_small() -> None:
    assert TUTORIAL_PLOT.read_bytes().startswith(b"\x89PNG")
    assert TUTORIAL_PLOT.stat().st_size < 250_000


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in prose(path).splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            slug = github_slug(heading.group(1))
            count = sum(1 for known in found if re.fullmatch(re.escape(slug) + r"(-\d+)?", known))
            found.add(f"{slug}-{count}" if count else slug)
    return found


def test_slugs_are_githubs() -> None:
    assert github_slug("Sweeps (`--range`)") == "sweeps---range"
    assert github_slug("Untrusted input: what, how") == "untrusted-input-what-how"


@pytest.mark.parametrize("path", DOCS, ids=relative)
def test_relative_links_lead_somewhere(path: Path) -> None:
    broken = []
    for target in LINK.findall(prose(path)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in anchors(linked):
            broken.append(f"{target}: no such heading in {linked.name}")
    assert not broken, f"{relative(path)}: {broken}"
