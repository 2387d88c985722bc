"""TAB completion that knows the data, for bash, zsh and fish: lead ids and names, the stages of a lead's
(or `--pipeline`'s) pipeline, pipelines, owners and sources. Fixed value sets (formats, sort keys,
activity kinds, periods, statuses) are choices in the options themselves (`common.one_of`) and
complete without this module.

The shell runs `pipecli` with `_PIPECLI_COMPLETE` set at every TAB; typer parses the words typed so far
and calls the option's function here with what is being completed. These functions read through
`store.quick` (the standard library's sqlite3, read-only), so a TAB loads neither SQLAlchemy nor
pendulum, and any failure (no database, a bad config file) offers nothing instead of an error.
A TAB imports only the module of the command it completes (`command_typed`, `cli.COMMANDS`) and ends
without the interpreter's teardown (`exit_at_once`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn

import typer

Candidates = list[tuple[str, str]] | list[str]


def words_as_typed() -> None:
    """Make this process (a TAB: the shell set `_PIPECLI_COMPLETE`) keep each parameter's value as typed.

    To find where the cursor is, typer parses the words typed so far, and by default converts every value
    through a pydantic TypeAdapter: importing pydantic for that costs as much as importing typer itself,
    which would double the cost of a TAB. Completion reads only the words (a lead, a pipeline, --db), so
    for this one process the conversion (and the options' callbacks) is skipped. Never called when a
    command runs."""
    # typer's parameter class: the one place its conversion can be switched off
    from typer.core import _TyperParameter

    def as_typed(self: Any, ctx: Any, value: Any) -> Any:
        return value

    _TyperParameter.process_value = as_typed  # type: ignore[method-assign]


def exit_at_once(done: SystemExit) -> NoReturn:
    """End this TAB process now that its candidates are written, with `done`'s exit status, without the
    interpreter's teardown: freeing every module and object at exit cost a TAB as much as everything
    pipecli does in it (about 30 ms of CPU against the 18 ms `python -c "import typer"` spends on its
    own), and the system frees the memory anyway. A TAB holds nothing to close: it only read (`store.quick`
    closes its connection) and wrote its output, flushed here."""
    # the one output layer writes the streams; loaded once the candidates are out (every command loads it anyway)
    from pipecli.cli import output

    code = done.code
    text = None
    if code is not None and not isinstance(code, int):  # sys.exit("message"), as Python reports it
        text, code = str(code), 1
    if not output.finish(text):  # the shell went away: nothing to report to
        code = code or 1
    os._exit(code or 0)


def command_typed(value_options: frozenset[str], flags: frozenset[str]) -> str | None:
    """Return the command whose words this TAB completes: `show` in `pipecli --db x.db show Ro<TAB>`, the
    first word after the root's options (`value_options` take a value, `flags` none) in the words the shell
    set (bash: COMP_WORDS and COMP_CWORD; zsh and fish: _TYPER_COMPLETE_ARGS). None when the TAB completes
    the command's name itself, a root option's value, or words this does not read for certain (another
    option, another shell): then every command is loaded, as for any other start."""
    # click's word splitting, as typer's completion classes split the same variables (loaded for a TAB anyway)
    from typer._click.shell_completion import split_arg_string

    shell = os.environ.get("_PIPECLI_COMPLETE", "")
    if shell == "complete_bash":
        cword = os.environ.get("COMP_CWORD", "")
        if not cword.isdigit():
            return None
        words = split_arg_string(os.environ.get("COMP_WORDS", ""))[1 : int(cword)]
    elif shell in ("complete_zsh", "complete_fish"):
        typed = os.environ.get("_TYPER_COMPLETE_ARGS", "")
        words = split_arg_string(typed)[1:]
        if words and not typed.endswith(" "):
            words = words[:-1]  # the word being completed
    else:
        return None
    before = iter(words)
    for word in before:
        if word in value_options:
            if next(before, None) is None:
                return None  # the option's value is being completed
        elif word in flags or ("=" in word and word.partition("=")[0] in value_options):
            continue
        elif word.startswith("-"):
            return None
        else:
            return word
    return None


def _target(ctx: typer.Context) -> str:
    """Return the database the command line being completed names (--db, $PIPECLI_DB, config, default)."""
    # the target resolver (and its config read) only when a TAB asks for data
    from pipecli.store.target import resolve_target

    return resolve_target(ctx.find_root().params.get("db"))


def _as_typed(value: str, typed: str) -> str:
    """Return `value` as the shell should put it in place of `typed`: starting with `typed` exactly as typed
    (lookups take any case), and, for bash, whose script inserts words as they are, with blanks escaped."""
    if typed and value.lower().startswith(typed.lower()):
        value = typed + value[len(typed) :]
    if "bash" in os.environ.get("_PIPECLI_COMPLETE", ""):
        value = value[: len(typed)] + "".join(
            "\\" + c if c in " \t'\"\\()&;|<>$`!*?[]" else c for c in value[len(typed) :]
        )
    return value


def _safe(produce: Callable[[typer.Context, str], Candidates]) -> Callable[[typer.Context, str], Candidates]:
    """Return `produce` made silent: any failure offers no candidates (a TAB never prints an error)."""

    def complete(ctx: typer.Context, incomplete: str) -> Candidates:
        try:
            return produce(ctx, incomplete)
        except Exception:
            return []

    complete.__name__ = produce.__name__
    complete.__doc__ = produce.__doc__
    return complete


@_safe
def leads(ctx: typer.Context, incomplete: str) -> Candidates:
    """Candidates for a LEAD: ids (described by name, company and stage), or names, companies and
    e-mails starting with the text typed."""
    # store.quick (light: sqlite3) only when a TAB asks for data, so --help loads no config reader
    from pipecli.store import quick

    found = quick.leads(_target(ctx), incomplete)
    digits = incomplete[1:] if incomplete.startswith("#") else incomplete
    if not digits or digits.isdigit():
        hash_ = "#" if incomplete.startswith("#") else ""
        return [
            (f"{hash_}{i}", " · ".join(str(v) for v in (name, company, stage) if v))
            for i, name, company, _, stage in found
        ]
    typed = incomplete.lower()
    out: dict[str, list[str]] = {}
    for i, name, company, email, stage in found:
        field = next(v for v in (name, company, email) if v and v.lower().startswith(typed))
        out.setdefault(_as_typed(field, incomplete), []).append(
            f"{i} {name}" + (f" ({company})" if company else "") + f" · {stage}"
        )
    return [
        (value, ids[0] if len(ids) == 1 else f"{len(ids)} leads: " + ", ".join(ids[:3])) for value, ids in out.items()
    ]


def _matching(names: list[str], incomplete: str) -> list[str]:
    typed = incomplete.lower()
    return [_as_typed(n, incomplete) for n in names if n.lower().startswith(typed)]


@_safe
def stages(ctx: typer.Context, incomplete: str) -> Candidates:
    """Candidates for a stage: of the command's --pipeline, else of its LEAD's pipeline, else of the
    default pipeline."""
    # store.quick (light: sqlite3) only when a TAB asks for data, so --help loads no config reader
    from pipecli.store import quick

    lead = ctx.params.get("lead")
    names = quick.stages(_target(ctx), str(lead) if lead is not None else None, ctx.params.get("pipeline"))
    return _matching(names, incomplete)


@_safe
def pipeline_stages(ctx: typer.Context, incomplete: str) -> Candidates:
    """Candidates for the STAGE of `pipeline stage|add-stage|remove-stage NAME STAGE`: NAME's stages."""
    # store.quick (light: sqlite3) only when a TAB asks for data, so --help loads no config reader
    from pipecli.store import quick

    return _matching(quick.stages(_target(ctx), pipeline=str(ctx.params.get("name") or "")), incomplete)


@_safe
def pipelines(ctx: typer.Context, incomplete: str) -> Candidates:
    """Candidates for a pipeline: every pipeline's name."""
    # store.quick (light: sqlite3) only when a TAB asks for data, so --help loads no config reader
    from pipecli.store import quick

    return _matching(quick.pipelines(_target(ctx)), incomplete)


@_safe
def owners(ctx: typer.Context, incomplete: str) -> Candidates:
    """Candidates for --owner: the owners leads have, the most used first."""
    # store.quick (light: sqlite3) only when a TAB asks for data, so --help loads no config reader
    from pipecli.store import quick

    return [_as_typed(v, incomplete) for v in quick.values(_target(ctx), "owner", incomplete)]


@_safe
def sources(ctx: typer.Context, incomplete: str) -> Candidates:
    """Candidates for --source: the sources leads have, the most used first."""
    # store.quick (light: sqlite3) only when a TAB asks for data, so --help loads no config reader
    from pipecli.store import quick

    return [_as_typed(v, incomplete) for v in quick.values(_target(ctx), "source", incomplete)]


def clean_rules(ctx: typer.Context, incomplete: str) -> Candidates:
    """Candidates for `clean --rules`, a comma-separated list: the groups, `all` and the rules, for the word
    after the last comma (`stale,hy<TAB>` gives `stale,hygiene`)."""
    # the fixed words only (the vocabulary imports nothing)
    from pipecli.vocabulary import CLEAN_GROUPS, CLEAN_RULES

    done, _, typed = incomplete.rpartition(",")
    head = done + "," if done else ""
    return [head + w for w in _matching([*CLEAN_GROUPS, "all", *CLEAN_RULES], typed)]
