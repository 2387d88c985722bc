"""Bad input that used to end as "internal error", exit 70 (issue 19): each case, run as a real process,
now ends with one line on stderr, no traceback, exit 1 (an error the message explains) or 2 (usage)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HUGE = str(2**63)  # one above SQLite's largest integer
CASES = [
    (["show", HUGE], 1, "too large"),
    (["move", HUGE, "won"], 1, "too large"),
    (["list", "--limit", HUGE], 1, "too large"),
    (["add-lead", "X", "--at", "9999-12-31"], 1, "too far away"),
    (["add-lead", "X", "--at", "0001-01-01"], 1, "too far away"),
    (["add-lead", "X", "--at", "in 9000 years"], 1, "too far away"),
    (["add-lead", "X", "--expected-close", "9999-12-31"], 1, "too far away"),
    (["metrics", "--as-of", "9999-12-31"], 1, "too far away"),
    (["metrics", "--since", "0001-01-01"], 1, "too far away"),
    (["add-lead", "X", "--at", "2026-01-01T00:00+25:00"], 1, "UTC offset"),
    (["forecast", "--seed", "-1"], 2, "--seed"),
    (["forecast", "--periods", "99999999"], 1, "--periods"),
    (["size", "--target", " "], 2, "--target"),
    (["--db", "/dev/null", "list"], 1, "not a regular file"),
    (["--db", "{fifo}", "list"], 1, "not a regular file"),
    (["add-lead", b"\xff".decode("utf-8", "surrogateescape")], 1, "not valid UTF-8"),
]


def _run(args: list[str], db: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db)}
    argv = [sys.executable, "-m", "pipecli", *args]
    return subprocess.run([os.fsencode(a) for a in argv], capture_output=True, env=env, cwd=ROOT, timeout=60)


@pytest.mark.parametrize(("args", "code", "says"), CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_bad_input_is_one_line_and_exit_1_or_2(tmp_path, args, code, says):
    db = tmp_path / "p.db"
    assert _run(["add-lead", "Anna"], db).returncode == 0
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    args = [a.replace("{fifo}", str(fifo)) for a in args]
    before = db.read_bytes()
    result = _run(args, db)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == code, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert says in stderr
    assert db.read_bytes() == before  # nothing was written


def test_the_rejects_path_missing_or_a_folder_is_one_line(tmp_path):
    db = tmp_path / "p.db"
    data = tmp_path / "in.csv"
    data.write_text("name,email\nAnna,anna@x.co\nBad,nope\n")
    (tmp_path / "folder").mkdir()
    for rejects in (tmp_path / "missing" / "r.csv", tmp_path / "folder"):
        result = _run(["import", str(data), "--skip-invalid", "--rejects", str(rejects)], db)
        stderr = result.stderr.decode()
        assert result.returncode == 1 and len(stderr.strip().splitlines()) == 1, stderr
        assert "Traceback" not in stderr and "--rejects" in stderr
