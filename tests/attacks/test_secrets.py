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
