"""The fuzzer of issue 19 (`benchmarks/fuzz.py`) works: a small seeded run over every command passes its
checks, and its checking function reports a planted failure of each kind."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def fuzz():
    sys.path.insert(0, str(BENCHMARKS))  # fuzz.py imports its neighbour common.py
    spec = importlib.util.spec_from_file_location("fuzz", BENCHMARKS / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_check_reports_each_planted_failure(fuzz):
    good = fuzz.Outcome(["list"], 0, "")
    assert fuzz.check(good) == []
    assert fuzz.check(fuzz.Outcome(["show", "x"], 1, "pipecli: no lead matches 'x'\n")) == []
    assert fuzz.check(fuzz.Outcome(["x"], 70, "pipecli: internal error: TypeError: boom\n")) == ["internal error"]
    traceback = "Traceback (most recent call last):\n  File 'x'\nValueError: boom\n"
    assert fuzz.check(fuzz.Outcome(["x"], 1, traceback)) == ["traceback", "multi-line error"]
    assert fuzz.check(fuzz.Outcome(["x"], 0, "", exception="ValueError: boom")) == ["traceback"]
    assert fuzz.check(fuzz.Outcome(["x"], 3, "pipecli: odd\n")) == ["exit 3"]
    assert fuzz.check(fuzz.Outcome(["x"], 1, "pipecli: no\n", changed=True)) == ["changed on failure"]
    assert fuzz.check(fuzz.Outcome(["x"], 0, "", changed=True)) == []  # a success may change the database
    assert fuzz.check(fuzz.Outcome(["x"], 0, "", integrity="row 3 missing from index")) == ["integrity"]


def test_a_small_seeded_run_covers_every_command_and_passes(fuzz, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the fuzzer moves into its folder; the test's cwd is put back after
    fuzzer = fuzz.Fuzzer(tmp_path, seed=7)
    lines = fuzzer.lines(60, 20)
    assert len(lines) == 80
    assert sum(1 for line in lines if "import" in line and any(a.startswith("CSV:") for a in line)) == 20
    summary = fuzzer.run(lines)
    assert summary.tried == 80
    assert summary.failures["internal error"] == 0 and summary.failures["traceback"] == 0, fuzz.report(summary, 7)
    assert summary.exits[0] > 0 and summary.exits[1] + summary.exits[2] > 0  # both successes and refusals
    assert summary.subprocesses > 0


def test_the_run_reports_a_planted_internal_error(fuzz, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fuzzer = fuzz.Fuzzer(tmp_path, seed=7)
    real = fuzz.run_in_process

    def planted(db, argv):  # the command `list` made to fail as an internal error would
        code, stderr, escaped = real(db, argv)
        return (
            (70, "pipecli: internal error: ValueError: planted\n", "")
            if argv[:1] == ["list"]
            else (code, stderr, escaped)
        )

    monkeypatch.setattr(fuzz, "run_in_process", planted)
    fuzzer.subprocess_share = 0.0
    summary = fuzzer.run([["list"], ["board"]])
    assert summary.tried == 2 and summary.passed == 1
    assert summary.failures["internal error"] == 1
    assert "list" in fuzz.report(summary, 7) and "planted" in fuzz.report(summary, 7)
    os.chdir(tmp_path)
