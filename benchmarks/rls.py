"""What row-level security costs on PostgreSQL: `list`, `board` and `forecast` as a team member, beside the
database owner, whom the policies do not apply to (issue 16).

For each size the script builds the report benchmarks' database (`bigdb.py`: leads spread over ten
sellers, their stage history), copies it into a new PostgreSQL database with `pipecli db migrate-to` (which
creates the policies) and makes a team (`pipecli team add`: a manager of every pipeline, who sees every
lead through the policies, and a seller, who sees a tenth). Each command's core work (what it runs in its
read transaction: `listing.list_leads` of every lead, `board.board`, `forecast.forecast`) is timed in this
process, best of --repeat after one untimed run, as the owner (no policy: the reference), the manager (the
same rows, each passed through the policy: the cost of RLS) and the seller (a tenth of the rows, through
the policy). Printed: wall time, pipecli's CPU time (`time.process_time`), the server backend's CPU time
(read from /proc for the connection's backend: the server must run on this machine), and the sum's ratio
to the owner's. The load average is printed with the figures: the machine may be shared.

    python benchmarks/rls.py --url postgresql://pipecli@localhost:55440/pipecli [--leads 10000 100000] [--repeat 3]

With --old, the database first gets the policies of schema 13 (tests/fixtures/policies-v13.sql: a function
call per row) and is stamped 13. A member's pipecli refuses a database it cannot migrate, so what is timed
there is one raw query through the policies (`OLD_QUERY`, every visible lead's count and value, as the
manager and the seller: wall and server CPU, best of --repeat), under the schema-13 policies, then again
after the owner's next command (`pipecli list`) brought the database to the latest schema (migration 14).

The URL's role must be allowed to create databases and roles; what the script makes (database
`pipecli_rls_bench_N`, roles `rlsb_*`) is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bigdb
from common import NOW, ROOT, pipecli

SELLER = "rlsb_seller01"
MANAGER = "rlsb_manager"


def url_of(base: str, database: str | None = None, role: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(base)
    if database is not None:
        url = url.set(database=database)
    if role is not None:
        url = url.set(username=role)
    return url.render_as_string(hide_password=False)


def _core(name: str):
    """Return the core work of command `name` as a function of a connection (what the command runs
    inside its one read transaction, before rendering)."""
    from pipecli import board, listing
    from pipecli.reports import forecast

    if name == "list":
        every = listing.LeadFilter(None, None, None, None, listing.list_status("all", None))
        return lambda conn: len(listing.list_leads(conn, every))
    if name == "board":
        return lambda conn: board.board(conn, None, 5, None)
    return lambda conn: forecast.forecast(conn)


def _server_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) the PostgreSQL backend `pid` has used (same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(url: str, name: str, repeat: int) -> tuple[float, float, float]:
    """Return (wall, pipecli CPU, server CPU) seconds of the best of `repeat` runs of command `name`'s core
    work on `url`, in this process, on one connection (after a first, untimed run)."""
    from sqlalchemy import text

    from pipecli.pipelines import open_store

    store = open_store(url)
    work = _core(name)
    try:
        with store.read() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            work(conn)
        runs = []
        for _ in range(repeat):
            wall, cpu, server = time.perf_counter(), time.process_time(), _server_cpu(pid)
            with store.read() as conn:
                if conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid:
                    raise SystemExit("the store changed connections: the server's CPU figure would be wrong")
                work(conn)
            runs.append((time.perf_counter() - wall, time.process_time() - cpu, _server_cpu(pid) - server))
        return min(runs)
    finally:
        store.dispose()


def build(base: str, leads: int, env: dict[str, str]) -> str:
    """Return the URL of a new PostgreSQL database holding the `leads`-lead benchmark pipeline and a team."""
    import psycopg

    sqlite = bigdb.path_for(leads)
    if not sqlite.exists():
        bigdb.build(sqlite, leads)
    name = f"pipecli_rls_bench_{leads}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        drop_roles(admin)
    url = url_of(base, name)
    started = time.perf_counter()
    subprocess.run(pipecli(sqlite, "db", "migrate-to", url), check=True, env=env)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE lead SET owner = 'rlsb_' || owner WHERE owner IS NOT NULL")
        conn.execute("ANALYZE")
    for member, role in ((SELLER, "seller"), (MANAGER, "manager")):
        subprocess.run(
            pipecli(url, "team", "add", member, "--role", role),
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    print(f"built {leads:,} leads on PostgreSQL in {time.perf_counter() - started:.0f} s", flush=True)
    return url


OLD_QUERY = "SELECT COUNT(*), SUM(value_minor) FROM lead WHERE status = 'open'"


def raw_timed(url: str, repeat: int) -> tuple[float, float, int]:
    """Return (wall, server CPU) seconds of the best of `repeat` runs of OLD_QUERY on `url`, and its count."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        count = conn.execute(OLD_QUERY).fetchone()[0]
        runs = []
        for _ in range(repeat):
            wall, server = time.perf_counter(), _server_cpu(pid)
            conn.execute(OLD_QUERY).fetchone()
            runs.append((time.perf_counter() - wall, _server_cpu(pid) - server))
    return (*min(runs), count)


def migration_14(url: str, repeat: int) -> None:
    """Print OLD_QUERY's cost as each member under the schema-13 policies, then after migration 14."""
    import psycopg

    lines = (ROOT / "tests" / "fixtures" / "policies-v13.sql").read_text().splitlines()
    with psycopg.connect(url, autocommit=True) as conn:
        for line in lines:
            if line and not line.startswith("--"):
                conn.execute(line.rstrip(";"))
    print(f"raw query through the policies: {OLD_QUERY}")
    print(f"{'policies':<28} {'role':<8} {'rows':>7} {'wall s':>7} {'server CPU':>11}")
    for label in ("schema 13 (per-row calls)", "after migration 14"):
        if label.startswith("after"):
            subprocess.run([sys.executable, "-m", "pipecli", "--db", url, "list", "--limit", "1"], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        for role in (MANAGER, SELLER):
            wall, server, count = raw_timed(url_of(url, role=role), repeat)
            print(f"{label:<28} {role[5:]:<8} {count:7d} {wall:7.3f} {server:11.3f}", flush=True)


def drop_roles(admin) -> None:
    for (role,) in admin.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'rlsb\\_%'").fetchall():
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("PIPECLI_TEST_PG_URL"), required=False)
    parser.add_argument("--leads", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old", action="store_true", help="time under the schema-13 policies, then after migration 14")
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("pass --url postgresql://... (or set PIPECLI_TEST_PG_URL)")
    home = tempfile.mkdtemp(prefix="pipecli-rls-")
    env = {
        **os.environ,
        "PIPECLI_NOW": NOW,
        "TZ": "UTC",
        "PIPECLI_CONFIG": str(Path(home) / "config.toml"),  # no one's settings: the database's defaults
        "PIPECLI_USER": "bench",
    }
    os.environ.update(env)  # the in-process timings read the same clock and (empty) config
    import psycopg

    for leads in args.leads:
        url = build(args.url, leads, env)
        try:
            print(f"\n{leads:,} leads, best of {args.repeat}, load average {os.getloadavg()[0]:.1f} (2 cores)")
            print(
                f"{'command':<9} {'role':<32} {'wall s':>7} {'pipecli CPU':>12} {'server CPU':>11} {'CPU vs owner':>13}"
            )
            if args.old:
                migration_14(url, args.repeat)
            for command in ("list", "board", "forecast"):
                owner = None
                for label, role in (
                    ("owner (no RLS: the reference)", None),
                    ("manager: every lead, via RLS", MANAGER),
                    ("seller: a tenth, via RLS", SELLER),
                ):
                    wall, cpu, server = timed(url if role is None else url_of(url, role=role), command, args.repeat)
                    owner = owner or (cpu + server)
                    ratio = (cpu + server) / owner
                    print(f"{command:<9} {label:<32} {wall:7.3f} {cpu:12.3f} {server:11.3f} {ratio:12.2f}×", flush=True)
            print(f"load average after: {os.getloadavg()[0]:.1f}")
        finally:
            with psycopg.connect(args.url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "pipecli_rls_bench_{leads}" WITH (FORCE)')
                drop_roles(admin)


if __name__ == "__main__":
    main()
