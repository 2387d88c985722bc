"""The release: the distribution's name, licence and metadata, the one version, the examples shipped in the
package, and the messages a user meets when the PostgreSQL driver or the database grants are missing."""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import uuid
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pipecli
from pipecli.cli import app

PACKAGE = Path(pipecli.__file__).resolve().parent
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_distribution_is_not_the_other_pipecli_and_carries_its_licence():
    """ "pipecli" on PyPI is another project: ours is `pipecli-sales`, MIT, with classifiers and keywords, and
    no invented project URLs (there is no public repository yet: github.com/pipecli/pipecli is not ours)."""
    meta = metadata.metadata("pipecli-sales")
    assert pipecli.DISTRIBUTION == "pipecli-sales" == meta["Name"]
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    classifiers = meta.get_all("Classifier") or []
    assert "Environment :: Console" in classifiers and "Programming Language :: Python :: 3.11" in classifiers
    assert "sales" in meta["Keywords"].split(",")
    assert not any("github.com/pipecli/pipecli" in u for u in meta.get_all("Project-URL") or [])
    # the `pipecli` command is the console script of this distribution
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts["pipecli"] == "pipecli.cli:main"


def test_version_is_written_once_and_read_from_the_metadata():
    out = run("--version")
    assert out.exit_code == 0
    assert out.stdout == f"pipecli {metadata.version('pipecli-sales')}\n"
    assert pipecli.__version__ == pipecli.version() == metadata.version("pipecli-sales")
    if PYPROJECT.exists():  # the checkout's pyproject: the one place the version is written
        import tomllib

        assert tomllib.loads(PYPROJECT.read_text())["project"]["version"] == pipecli.version()
        assert "__version__ =" not in (PACKAGE / "__init__.py").read_text()


def test_version_from_a_source_checkout_that_was_never_installed(monkeypatch):
    """With no distribution of that name installed, the version is the checkout's pyproject.toml's."""
    if not (PACKAGE.parent / "pyproject.toml").exists():
        pytest.skip("the suite runs against the installed wheel: no source checkout around the package")
    import tomllib

    monkeypatch.setattr(pipecli, "DISTRIBUTION", f"pipecli-sales-never-installed-{uuid.uuid4().hex[:6]}")
    written = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]["version"]
    assert pipecli.version() == written
    assert run("--version").stdout == f"pipecli {written}\n"


def test_examples_are_shipped_in_the_package_and_listed():
    out = run("examples", "--format", "json")
    assert out.exit_code == 0, out.stderr
    listed = json.loads(out.stdout)
    shipped = sorted(
        p.name for p in (PACKAGE / "examples").iterdir() if p.is_file() and p.suffix not in (".py", ".pyc")
    )
    assert [e["name"] for e in listed] == shipped
    assert {"crontab", "clean-and-mail.sh", "leads.csv", "weekly-changes.crontab"} <= set(shipped)
    about = {e["name"]: e["about"] for e in listed}
    assert about["leads.csv"] == "sample leads to import: 13 columns"
    assert about["crontab"].startswith("pipecli: mail the stale-deal report")
    # `list` is the same listing
    assert run("examples", "list", "--format", "json").stdout == out.stdout


def test_examples_crontab_prints_the_cron_lines_and_the_helper_prints_itself():
    crontab = run("examples", "crontab")
    assert crontab.exit_code == 0
    assert crontab.stdout == (PACKAGE / "examples" / "crontab").read_text()
    assert "clean-and-mail.sh sales@example.com" in crontab.stdout
    assert "pipecli examples clean-and-mail.sh >" in crontab.stdout  # how to save the helper it runs
    helper = run("examples", "clean-and-mail.sh")
    assert helper.stdout.startswith("#!/bin/sh\n")
    assert helper.stdout == (PACKAGE / "examples" / "clean-and-mail.sh").read_text()


def test_the_sample_csv_printed_by_examples_imports(tmp_path):
    import csv

    sample = tmp_path / "leads.csv"
    sample.write_text(run("examples", "leads.csv").stdout)
    with sample.open(newline="") as f:
        rows = list(csv.DictReader(f))
    db = str(tmp_path / "p.db")
    out = run("--db", db, "import", str(sample))
    assert out.exit_code == 0, out.stderr
    listed = json.loads(run("--db", db, "list", "--status", "all", "--format", "json").stdout)
    assert sorted(lead["name"] for lead in listed) == sorted(row["Full Name"] for row in rows)


def test_an_unknown_example_is_one_line_naming_the_ones_there_are():
    out = run("examples", "nope")
    assert out.exit_code == 1
    assert out.stderr == (
        "pipecli: no example called 'nope'; there are: clean-and-mail.sh, crontab, leads.csv, session.sh, "
        "weekly-changes.crontab\n"
    )


def test_without_the_driver_a_postgresql_url_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what `import psycopg` meets when it is not installed
    out = run("--db", "postgresql://anna@localhost:1/sales", "list")
    assert out.exit_code == 1
    assert out.stderr == "pipecli: the PostgreSQL driver is not installed: pip install 'pipecli-sales[postgres]'\n"


@pytest.fixture
def role_without_grants(pg_server):
    """Return the URL of a fresh pipecli database on the test server as a new role that was granted nothing
    (the role is dropped after the test)."""
    import psycopg

    role = f"pipecli_nogrant_{uuid.uuid4().hex[:8]}"
    try:
        pg_server.admin.execute(f'CREATE ROLE "{role}" LOGIN')
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the test role may not CREATE ROLE")
    name = pg_server.fresh()
    try:
        yield (
            pg_server.url.set(database=name, username=role, password=None)
            .render_as_string(hide_password=False)
            .replace("postgresql+psycopg://", "postgresql://", 1),
            pg_server.url_of(name),
        )
    finally:
        pg_server.drop(name)
        pg_server.admin.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.parametrize("command", [["list"], ["add-lead", "Anna"]])
def test_a_role_without_grants_is_told_so_not_that_a_file_is_read_only(role_without_grants, command):
    url, owner_url = role_without_grants
    role = url.split("//", 1)[1].split("@", 1)[0]
    before = CliRunner().invoke(app, ["--db", owner_url, "list", "--format", "json"]).stdout
    out = run("--db", url, *command)
    assert out.exit_code == 1
    assert out.stderr.startswith(f"pipecli: database role {role} has no access to pipecli's tables in {url} ("), (
        out.stderr
    )
    assert "read-only" not in out.stderr and len(out.stderr.splitlines()) == 1
    assert CliRunner().invoke(app, ["--db", owner_url, "list", "--format", "json"]).stdout == before


def test_the_suite_tests_the_installed_package_when_ci_says_so():
    """CI installs the built wheel and sets PIPECLI_TEST_INSTALLED=1: then pipecli must come from site-packages,
    with its examples, not from the source tree."""
    if os.environ.get("PIPECLI_TEST_INSTALLED") != "1":
        pytest.skip("PIPECLI_TEST_INSTALLED not set: the suite runs on the source tree")
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert PACKAGE.is_relative_to(site), PACKAGE
    assert (PACKAGE / "examples" / "crontab").is_file()
