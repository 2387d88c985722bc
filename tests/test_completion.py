"""TAB completion that knows the data, driven as the shells drive it: a `pipecli` process started with
`_PIPECLI_COMPLETE` and the words typed so far (COMP_WORDS/COMP_CWORD for bash, _TYPER_COMPLETE_ARGS for
zsh and fish), on a real database; and the fixed value sets as choices, a bad value exit 2 everywhere.

The database: lead 1 Anna Rossi (Rossi Srl, owner bob, source web, added 20 November) and lead 2
Marco Bianchi (owner alice, source web, 25 November) in the default Sales pipeline; lead 3 Zed (22
November) in a second pipeline, Post (Onboarding, Live).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipecli import vocabulary

SALES = ["Prospecting", "Contact", "Qualification", "Meeting", "Proposal", "won", "lost"]
POST = ["Onboarding", "Live", "won", "lost"]


@pytest.fixture
def data(cli):
    cli("add-lead", "Anna Rossi", "--company", "Rossi Srl", "--owner", "bob", "--source", "web", "--at", "2026-11-20")
    cli("add-lead", "Marco Bianchi", "--owner", "alice", "--source", "web", "--at", "2026-11-25")
    cli("pipeline", "add", "Post", "--stages", "Onboarding,Live")
    cli("add-lead", "Zed", "--pipeline", "Post", "--at", "2026-11-22")
    return cli


def tab(db: str, words: str, shell: str = "bash", extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run one TAB of `shell` after `words` (a trailing space: a new word is being started) on `db`."""
    env = {**os.environ, "PIPECLI_DB": db, **(extra_env or {})}
    if shell == "bash":
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        env.update(COMP_WORDS=words, COMP_CWORD=str(cword), _PIPECLI_COMPLETE="complete_bash")
    else:
        env.update(_TYPER_COMPLETE_ARGS=words, _PIPECLI_COMPLETE=f"complete_{shell}")
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    return subprocess.run([sys.executable, "-m", "pipecli"], env=env, capture_output=True, text=True, timeout=60)


def bash(db: str, words: str) -> list[str]:
    done = tab(db, words)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return [line for line in done.stdout.splitlines() if line]  # no candidates: one empty line


def test_move_completes_the_stages_of_the_leads_pipeline(data):
    assert bash(data.db, "pipecli move 1 ") == SALES
    assert bash(data.db, "pipecli move 3 ") == POST  # Zed is in Post
    assert bash(data.db, "pipecli move #3 ") == POST
    assert bash(data.db, "pipecli move 1 --pipeline Post ") == POST  # into another pipeline
    assert bash(data.db, "pipecli move 1 Pro") == ["Prospecting", "Proposal"]
    assert bash(data.db, "pipecli move 1 pro") == ["prospecting", "proposal"]  # as typed: stages take any case
    assert bash(data.db, "pipecli pipeline stage Post ") == POST


def test_lead_arguments_complete_ids_and_names(data):
    assert sorted(bash(data.db, "pipecli show ")) == ["1", "2", "3"]
    assert bash(data.db, "pipecli show #") == ["#2", "#3", "#1"]  # most recently active first
    assert bash(data.db, "pipecli show An") == ["Anna\\ Rossi"]  # bash inserts words as they come: escaped
    assert bash(data.db, "pipecli log ross") == ["rossi\\ Srl"]  # the company, in the case typed
    assert bash(data.db, "pipecli edit Ma") == ["Marco\\ Bianchi"]
    assert bash(data.db, "pipecli show Nobody") == []


def test_zsh_and_fish_get_ids_described_by_name_company_and_stage(data):
    zsh = tab(data.db, "pipecli show ", "zsh")
    assert zsh.returncode == 0, zsh.stderr
    assert '"1":"Anna Rossi · Rossi Srl · Prospecting"' in zsh.stdout
    assert '"3":"Zed · Onboarding"' in zsh.stdout
    fish = tab(data.db, "pipecli move 3 ", "fish")
    assert fish.returncode == 0, fish.stderr
    assert [line.split("\t")[0] for line in fish.stdout.splitlines()] == POST
    names = tab(data.db, "pipecli show An", "zsh")
    assert "Anna Rossi" in names.stdout and "1 Anna Rossi (Rossi Srl) · Prospecting" in names.stdout


def test_pipelines_owners_and_sources_come_from_the_data(data):
    assert bash(data.db, "pipecli list --pipeline ") == ["Sales", "Post"]
    assert bash(data.db, "pipecli board -p P") == ["Post"]
    assert sorted(bash(data.db, "pipecli list --owner ")) == ["alice", "bob"]
    assert bash(data.db, "pipecli clean --owner b") == ["bob"]
    assert bash(data.db, "pipecli list --source ") == ["web"]
    assert bash(data.db, "pipecli list --stage ") == SALES  # the default pipeline's
    assert bash(data.db, "pipecli list --pipeline Post --stage ") == POST


def test_fixed_sets_complete_from_the_vocabulary(data):
    assert bash(data.db, "pipecli list --sort ") == list(vocabulary.SORTS)
    assert bash(data.db, "pipecli log 1 ") == list(vocabulary.KINDS)
    assert bash(data.db, "pipecli log 1 em") == ["email", "email_opened"]
    assert bash(data.db, "pipecli list --status ") == [*vocabulary.STATUSES, "all"]
    assert bash(data.db, "pipecli list -f J") == ["json"]  # any case
    assert bash(data.db, "pipecli forecast --period ") == ["month", "quarter", "week"]
    assert bash(data.db, "pipecli import x.csv --from h") == ["hubspot"]


@pytest.mark.sqlite_only
def test_a_tab_without_a_database_offers_nothing_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo.db"
    assert bash(str(missing), "pipecli move 1 ") == []
    assert bash(str(missing), "pipecli show ") == []
    assert bash(str(missing), "pipecli list --sort v") == ["value"]  # fixed sets need no database
    assert not missing.exists()


@pytest.mark.sqlite_only
def test_a_tab_loads_neither_sqlalchemy_nor_pendulum(data):
    env = {
        **os.environ,
        "PIPECLI_DB": data.db,
        "COMP_WORDS": "pipecli move 1 ",
        "COMP_CWORD": "3",
        "_PIPECLI_COMPLETE": "complete_bash",
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipecli"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines() == SALES
    loaded = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    for heavy in ("sqlalchemy", "sqlmodel", "pendulum", "rich", "numpy", "pydantic"):
        assert heavy not in loaded, f"a TAB imported {heavy}"


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--sort", "sideways"],
        ["list", "--status", "closed"],
        ["list", "--format", "xml"],
        ["log", "1", "telegram"],
        ["forecast", "--period", "year"],
        ["forecast", "--probabilities", "magic"],
        ["export", "--what", "deals"],
        ["export", "--format", "xml"],
        ["import", "x.csv", "--from", "excel"],
        ["changes", "--format", "pdf"],
        ["clean", "--format", "pdf"],
    ],
)
def test_a_value_outside_a_fixed_set_is_a_usage_error_everywhere(data, args):
    before = data.every_row()
    result = data(*args, ok=False)
    assert result.exit_code == 2, result.output
    assert "is not one of" in result.stderr
    assert data.every_row() == before


def test_fixed_sets_take_any_case(data):
    assert [r["name"] for r in __import__("json").loads(data("list", "--sort", "NAME", "-f", "JSON").stdout)] == [
        "Anna Rossi",
        "Marco Bianchi",
        "Zed",
    ]
    assert data("list", "--status", "Open", "--format", "csv").stdout.count("\n") == 4  # header + 3 open leads
    data("log", "1", "CALL")
    assert data.sql("SELECT kind FROM activity WHERE lead_id = 1") == [("call",)]
