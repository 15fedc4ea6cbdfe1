"""Every command with ``--json`` prints exactly one JSON document on stdout (progress and notes go to
stderr); each is checked by a test that parses the whole of stdout with ``json.loads``. A new
``--json`` command fails this test until a test covers it too."""

from __future__ import annotations

from pathlib import Path

from baton.cli import reference

ROOT = Path(__file__).resolve().parents[2]

# command -> the test file that parses its whole stdout as one JSON document
COVERED = {
    "baton provenance compare": "tests/provenance/test_provenance_cli.py",
    "baton provenance scan": "tests/provenance/test_provenance_cli.py",
    "baton eval tasks": "tests/evaluation/test_eval_cli.py",
    "baton challenge decide": "tests/challenge/test_cli.py",
    "baton challenge verify": "tests/challenge/test_cli.py",
    "baton challenge next-battle": "tests/challenge/test_cli.py",
    "baton challenge target-score": "tests/challenge/test_target_scores.py",
    "baton challenge panel-assign": "tests/challenge/test_panel_service.py",
    "baton challenge panel-assignments": "tests/challenge/test_panel_service.py",
    "baton challenge panel-conflict": "tests/challenge/test_panel_service.py",
    "baton challenge rate": "tests/challenge/test_panel_service.py",
    "baton challenge import-ratings": "tests/challenge/test_panel_service.py",
    "baton challenge enter": "tests/challenge/test_cli_operations.py",
    "baton challenge submit": "tests/challenge/test_cli_operations.py",
    "baton challenge record-score": "tests/challenge/test_cli_operations.py",
    "baton challenge battles": "tests/challenge/test_cli_operations.py",
    "baton challenge revise": "tests/challenge/test_cli_operations.py",
    "baton challenge apply": "tests/challenge/test_repechage.py",
    "baton challenge check-gates": "tests/challenge/test_gate_kinds.py",
    "baton commons list": "tests/commons/test_release.py",
    "baton variants make": "tests/variants/test_make.py",
    "baton variants check": "tests/variants/test_make.py",
}


def test_every_json_command_is_covered_by_a_whole_stdout_check() -> None:
    with_json = {
        " ".join(path)
        for path, command in reference.commands()
        if any("--json" in getattr(parameter, "opts", ()) for parameter in getattr(command, "params", []))
    }
    assert with_json == set(COVERED), f"cover these --json commands: {sorted(with_json - set(COVERED))}"
    for command, test_file in COVERED.items():
        words = command.split()[1:]
        text = (ROOT / test_file).read_text(encoding="utf-8")
        assert all(f'"{word}"' in text for word in words) and '"--json"' in text, (command, test_file)
        assert ".splitlines()[-1])" not in text, f"{test_file} must parse the whole of stdout"
