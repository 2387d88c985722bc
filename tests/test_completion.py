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


def test_clean_rules_complete_each_word_of_the_list_and_a_bad_one_is_a_usage_error(data):
    every = ["stale", "hygiene", "all", "silent", "stuck", "overdue", "incomplete", "no-next-step", "duplicate"]
    assert bash(data.db, "pipecli clean --rules ") == every
    assert bash(data.db, "pipecli clean --rules stale,h") == ["stale,hygiene"]
    assert bash(data.db, "pipecli clean --check --rules silent,d") == ["silent,duplicate"]
    before = data.every_row()
    result = data("clean", "--rules", "stale,stail", ok=False)
    assert result.exit_code == 2, result.output  # as every other fixed set's bad value
    assert result.stderr.splitlines() == [
        f"pipecli: --rules: 'stail' is not a rule or group (known: {', '.join(every)})"
    ]
    assert data.every_row() == before


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
        ["duplicates", "--status", "closed"],
        ["edit", "1", "--forecast-category", "maybe"],
        ["pipeline", "stage", "Sales", "Meeting", "--forecast-category", "maybe"],
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


# Run as `python -c`: a TAB through pipecli's entry point, then (as it exits, after the completion printed)
# the command modules of `pipecli.cli` this process loaded, on stderr.
LOADED = (
    "import os, sys\n"
    "real_exit = os._exit\n"
    "def exit_(code):\n"
    "    print(*sorted(m for m in sys.modules if m.startswith('pipecli.cli.')), file=sys.stderr, flush=True)\n"
    "    real_exit(code)\n"
    "os._exit = exit_\n"
    "from pipecli.cli import main\n"
    "main()\n"
)
HELPERS = {"pipecli.cli.common", "pipecli.cli.complete", "pipecli.cli.context", "pipecli.cli.output"}  # no commands


def loaded(db: str, words: str) -> tuple[list[str], set[str]]:
    """Return the candidates of a bash TAB after `words`, and the command modules (`leads`) it loaded."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {**os.environ, "PIPECLI_DB": db, "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    env["_PIPECLI_COMPLETE"] = "complete_bash"
    done = subprocess.run([sys.executable, "-c", LOADED], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = set(done.stderr.split()) - HELPERS
    return [line for line in done.stdout.splitlines() if line], {m.rpartition(".")[2] for m in modules}


def test_a_tab_in_a_commands_words_loads_only_the_module_declaring_it(data):
    assert loaded(data.db, "pipecli show An") == (["Anna\\ Rossi"], {"leads"})
    assert loaded(data.db, f"pipecli --db {data.db} --no-pager --as bob show An") == (["Anna\\ Rossi"], {"leads"})
    assert loaded(data.db, f"pipecli --db={data.db} clean --owner b") == (["bob"], {"clean"})
    assert loaded(data.db, "pipecli pipeline stage Post ") == (POST, {"pipeline"})
    assert loaded(data.db, "pipecli forecast --period ") == (["month", "quarter", "week"], {"reports"})
    # the command's own name, a root option's value, or an option this does not read: every module
    from pipecli.cli import COMMANDS

    assert loaded(data.db, "pipecli mo")[1] == set(COMMANDS)
    assert loaded(data.db, "pipecli --db ")[1] == set(COMMANDS)
    assert loaded(data.db, "pipecli --install-completion show ")[1] == set(COMMANDS)


@pytest.mark.parametrize(
    "words",
    [
        "pipecli move 3 ",
        "pipecli move 1 --pipeline Post ",
        "pipecli show ",
        "pipecli show #",
        "pipecli show An",
        "pipecli log ross",
        "pipecli log 1 em",
        "pipecli list --owner ",
        "pipecli --no-pager list --pipeline P",
        "pipecli list --sort ",
        "pipecli clean --owner b",
        "pipecli pipeline stage Post ",
        "pipecli import x.csv --from h",
        "pipecli history ",
    ],
)
def test_a_tab_loading_one_module_offers_what_a_tab_loading_every_module_offers(data, words):
    """fish's TAB loads only the command's module; PowerShell's (words this does not read) loads every one:
    the same words give the same candidates, with the same descriptions."""
    fish = tab(data.db, words, "fish")
    incomplete = "" if words.endswith(" ") else words.split()[-1]
    env = {"_TYPER_COMPLETE_WORD_TO_COMPLETE": incomplete}
    powershell = tab(data.db, words, "powershell", extra_env=env)
    assert fish.returncode == powershell.returncode == 0, fish.stderr + powershell.stderr
    fish_found = [tuple(line.split("\t")) for line in fish.stdout.splitlines() if line]
    powershell_found = [tuple(line.split(":::")) for line in powershell.stdout.splitlines() if line]
    assert fish_found, words  # something to compare
    assert [(value, *(h.strip() for h in help_ if h.strip())) for value, *help_ in powershell_found] == fish_found


@pytest.mark.sqlite_only
def test_a_command_missing_from_the_table_still_completes(data):
    """A command moved to another module without the table following: its TAB loads every module."""
    script = (
        "import pipecli.cli as cli\n"
        "cli.COMMANDS['pipeline'] = (); cli.COMMANDS['leads'] += ('pipeline',)\n"  # `pipeline` said to be in leads
        "cli._declared.registered_commands.clear(); cli._declared.registered_groups.clear()\n"
        "cli._register()\n"
        "cli.main()\n"
    )
    words = "pipecli pipeline stage Post "
    env = {**os.environ, "PIPECLI_DB": data.db, "COMP_WORDS": words, "COMP_CWORD": "4"}
    env["_PIPECLI_COMPLETE"] = "complete_bash"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr, done.stdout.splitlines()) == (0, "", POST)


def test_lookups_ignore_case_on_every_database(data):
    """SQLite files compare with LIKE as it is (case-blind for the letters lower() folds), PostgreSQL lowers."""
    assert bash(data.db, "pipecli list --owner B") == ["Bob"]  # the rest of `bob`, after the letter as typed
    assert bash(data.db, "pipecli list --source WE") == ["WEb"]
    assert bash(data.db, "pipecli show aNNA") == ["aNNA\\ Rossi"]
    assert bash(data.db, "pipecli show ROSS") == ["ROSSi\\ Srl"]  # the company
    assert bash(data.db, "pipecli show 100%") == []  # % and _ are letters, not patterns


def test_a_tab_process_ends_with_all_its_output_and_its_exit_status(data, tmp_path):
    """A TAB skips the interpreter's teardown (`complete.exit_at_once`): what it wrote is all there, into a
    pipe or a file, and the exit status is typer's."""
    out = tmp_path / "out.txt"
    env = {**os.environ, "PIPECLI_DB": data.db, "COMP_WORDS": "pipecli show ", "COMP_CWORD": "2"}
    env["_PIPECLI_COMPLETE"] = "complete_bash"
    with open(out, "w") as handle:  # a file: fully buffered, written only when flushed
        done = subprocess.run([sys.executable, "-m", "pipecli"], env=env, stdout=handle, timeout=60)
    assert done.returncode == 0 and sorted(out.read_text().split()) == ["1", "2", "3"]
    env["_PIPECLI_COMPLETE"] = "source_bash"  # the script a shell's rc file evaluates
    done = subprocess.run([sys.executable, "-m", "pipecli"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "complete -o default -F _pipecli_completion pipecli" in done.stdout
    env["_PIPECLI_COMPLETE"] = "complete_tcsh"  # no such shell: typer's message and status
    done = subprocess.run([sys.executable, "-m", "pipecli"], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr.strip()) == (1, "", "Shell tcsh not supported.")
