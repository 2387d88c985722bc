"""A PostgreSQL password never appears in pipecli's messages (issue 19), whatever it holds and wherever
the URL puts it. The server named here refuses connections at once (port 1), so no server is needed."""

from __future__ import annotations

import pytest

from pipecli.store.target import redact


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://pipecli:s3cret@localhost:1/x", "s3cret"),
        ("postgresql://pipecli:se/cr%et@localhost:1/x", "se/cr"),
        ("postgresql://pipecli:p@ss@localhost:1/x", "p@ss"),
        ("postgresql://pipecli@localhost:1/x?password=hunter2", "hunter2"),
        ("postgresql://pipecli@localhost:1/x?sslmode=disable&PASSWORD=hunter2", "hunter2"),
    ],
)
def test_password_never_in_messages(url, secret):
    assert secret not in redact(url)
    assert "localhost:1/x" in redact(url)  # the rest of the URL still says which database
    from typer.testing import CliRunner

    from pipecli.cli import app

    result = CliRunner().invoke(app, ["--db", url, "list"])
    assert result.exit_code == 1
    assert secret not in result.stderr and secret not in result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_journal_keeps_a_database_urls_password_out_of_every_sellers_view(pg_url):
    """Every command line is journalled, and everyone who may see a lead reads it (`history`, `undo --list`):
    the password of a `--db` URL must not be stored there (the test server trusts local connections, so a
    URL carrying one still connects)."""
    import json

    from conftest import Cli
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(password="s3cret").render_as_string(hide_password=False)
    cli = Cli(url)
    lead = cli("add-lead", "Anna Rossi").stdout.strip()
    cli("log", lead, "call", "--note", "intro")
    history = json.loads(cli("history", lead, "--format", "json").stdout)
    commands = [row["command"] for row in history]
    assert len(commands) == 3  # created, stage, the call
    assert all("s3cret" not in c and c.startswith("pipecli --db 'postgresql://pipecli:***@") for c in commands)
    listed = cli("undo", "--list", "--format", "json").stdout
    assert "s3cret" not in listed and ":***@" in listed
    stored = [command for (command,) in cli.sql("SELECT command FROM journal")]
    assert len(stored) == 2 and not any("s3cret" in c for c in stored)
