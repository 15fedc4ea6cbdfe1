"""Results go to stdout; progress, notes, warnings and errors to stderr (see ``baton.cli.common``).

Two static rules keep every command in line, and real runs check the streams of the commands a
newcomer meets first: a value meant for capture (a token, a path) is alone on stdout, a result sentence
is on stdout, an error leaves stdout empty.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from baton.cli import reference
from baton.cli.main import app

CLI = Path(__file__).resolve().parents[2] / "src" / "baton" / "cli"
STDOUT_WRITERS = {"say", "emit", "print_json", "print_table"}
# Servers and the worker write a log (to stderr) for as long as they run: no result on stdout.
LONG_RUNNING = {"baton serve", "baton demo", "baton worker", "baton eval serve"}
# Modules that may write to the streams directly: the helpers themselves, the servers' log, and the
# reference generator (whose output is the document).
DIRECT_WRITERS_ALLOWED = {"common.py", "serve.py", "reference.py"}


def _calls(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                names.add(call.func.id)
            elif isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
    return names


def test_commands_write_only_through_the_stream_helpers() -> None:
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        if path.name in DIRECT_WRITERS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            direct = (isinstance(func, ast.Name) and func.id == "print") or (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in {("console", "print"), ("typer", "echo"), ("sys", "stdout")}
            )
            if direct:
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"write through say/emit/note/warn/print_json/print_table instead: {offenders}"


def test_every_command_has_a_result_on_stdout() -> None:
    """Each leaf command (or a function of the CLI it calls) writes its result with a stdout helper."""
    functions: dict[str, ast.FunctionDef] = {}
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, node)

    def writes_stdout(node: ast.AST, seen: set[str]) -> bool:
        called = _calls(node)
        if called & STDOUT_WRITERS:
            return True
        return any(name in functions and writes_stdout(functions[name], seen | {name}) for name in called - seen)

    silent = []
    for words, command in reference.commands():
        callback = getattr(command, "callback", None)
        name = " ".join(words)
        if callback is None or name in LONG_RUNNING or getattr(command, "commands", None):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(callback)))
        if not writes_stdout(tree, {callback.__name__}):
            silent.append(name)
    assert not silent, f"these commands print no result on stdout: {silent}"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_streams_of_the_first_commands(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    made = _run("init", "--data-dir", str(folder))
    assert made.exit_code == 0, made.output
    assert made.stdout == f"{folder.resolve()}\n"  # the path alone: DATA=$(baton init) works
    assert "ready at" in made.stderr

    created = _run("user", "create", "alice", "--admin", "--data-dir", str(folder))
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("baton_") and "\n" not in token, created.stdout  # TOKEN=$(baton user create …)
    assert "created user alice" in created.stderr and token not in created.stderr

    org = _run("org", "create", "gaon-tech", "--admin", "alice", "--data-dir", str(folder))
    assert org.exit_code == 0, org.output
    assert "created organization gaon-tech" in org.stdout and org.stderr == ""

    valid = _run("challenge", "validate", "--example", "stage1")
    assert valid.exit_code == 0, valid.output
    assert valid.stdout.startswith("valid: ") and valid.stderr == ""

    released = _run("commons", "list", "--data-dir", str(folder))
    assert released.exit_code == 0, released.output
    assert released.stdout.strip() == "nothing released yet" and released.stderr == ""

    skills = _run("talent", "skills", "machine learning", "--limit", "3")
    assert skills.exit_code == 0, skills.output
    codes = skills.stdout.split()
    assert codes and all(code.isdigit() for code in codes), skills.stdout  # the codes alone, for scripts
    assert "English" in skills.stderr  # the table, for the person


def test_errors_leave_stdout_empty_and_name_the_command_to_run(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    assert _run("init", "--data-dir", str(folder)).exit_code == 0

    missing = _run("org", "add", "nowhere", "nobody", "--data-dir", str(folder))
    assert missing.exit_code == 2 and missing.stdout == ""
    assert "error" in missing.stderr

    refused = _run("talent", "delete", "bob smith", "--data-dir", str(folder))
    assert refused.exit_code == 2 and refused.stdout == ""
    assert "hint: To carry it out: baton talent delete 'bob smith' --yes" in refused.stderr

    absent = _run("commons", "list", "--data-dir", str(tmp_path / "elsewhere"))
    assert absent.exit_code == 2 and absent.stdout == ""
    assert f"baton init --data-dir {tmp_path / 'elsewhere'}" in absent.stderr
