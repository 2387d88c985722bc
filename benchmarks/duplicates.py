"""The cost of finding duplicates on 100,000 leads: the check `add-lead` makes, and `pipecli duplicates`.

    python benchmarks/duplicates.py [--leads 100000] [--adds 200] [--runs 3] [--companies N]

Builds a SQLite database of N leads with realistic contacts (names from a pool, companies with legal forms,
addresses at company domains, phones in three spellings) of which about 2 % are copies of another lead
(a `+tag` address, names in the other order, `S.r.l.` for `Srl`, the phone spelt differently). With
`--companies N` the leads work at N companies only (`--leads 20000 --companies 13`: one company block of
about 1,500 leads each, as the import benchmark's file has), the case a matcher comparing every pair of a
block makes quadratic. Then prints:

- **add-lead**: per added lead, `leads.add_lead` alone and `leads.add_checked` (the same add after
  `identity.likely_duplicates`), half the new leads copies of stored ones, each add rolled back; beside the
  floor, one indexed exact-address lookup (what a check that knows no normal forms costs). The check's
  cost is the difference between the two adds.
- **duplicates**: `merging.duplicate_pairs` over every lead (the core of `pipecli duplicates`) and the
  whole command (`--format csv`, best of N), beside the floor, a GROUP BY of the exact lower-cased
  addresses (which finds only the copies with the very same address).

Every figure is wall and CPU time (the machine may be shared: the load average is printed too).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import NOW_TS as NOW
from common import command_env, pipecli

FIRST = "Anna Marco Giulia Luca Sara Paolo Elena Davide Chiara Matteo Laura Andrea Marta Stefano Silvia".split()
LAST = "Rossi Bianchi Verdi Russo Ferrari Esposito Romano Colombo Ricci Marino Greco Bruno Gallo Conti".split()
FORMS = ["Srl", "S.r.l.", "SpA", "S.p.A.", "GmbH", "Ltd", "Inc.", ""]


def contact(rng: random.Random, i: int, companies: int | None = None) -> dict:
    """Return the details of lead number `i`: a person at one of ~N/5 companies, else of `companies`."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    number = i // 5 if companies is None else i % companies
    company = f"{rng.choice(LAST) if companies is None else 'Cliente'} {number} {rng.choice(FORMS)}".strip()
    domain = f"co{number}.example"
    return {
        "name": f"{first} {last}",
        "company": company,
        "email": f"{first.lower()}.{last.lower()}{i}@{domain}",
        "phone": f"+39 02 {rng.randint(1000000, 9999999)}",
    }


def copy_of(rng: random.Random, c: dict) -> dict:
    """Return a copy of contact `c` as it is typed again: a tagged address, swapped names, another legal
    form, the phone without spaces (one or two of these)."""
    first, last = c["name"].split()
    local, _, domain = c["email"].partition("@")
    kinds = rng.sample(["email", "name", "phone"], rng.randint(1, 2))
    return {
        "name": f"{last} {first}" if "name" in kinds else c["name"],
        "company": c["company"].replace("Srl", "S.r.l.").replace("SpA", "S.p.A."),
        "email": f"{local}+crm@{domain}" if "email" in kinds else None,
        "phone": c["phone"].replace(" ", "") if "phone" in kinds else None,
    }


def build(db: str, n: int, rng: random.Random, companies: int | None = None) -> list[dict]:
    """Write `n` open leads (2 % of them copies) into `db`, with the matcher's stored blocks as every write
    path stores them (schema 12; an older pipecli has none); return the contacts that are no copies."""
    from sqlalchemy import text

    from pipecli import identity, pipelines

    blocks = getattr(identity, "match_columns", None)
    store = pipelines.open_store(db, create=True)
    contacts: list[dict] = []
    originals: list[dict] = []
    for i in range(1, n + 1):
        if originals and rng.random() < 0.02:
            contacts.append(copy_of(rng, rng.choice(originals)))
        else:
            originals.append(contact(rng, i, companies))
            contacts.append(originals[-1])
    names, values = "", ""
    if blocks is not None:
        names, values = ", match_email, match_phone, match_company", ", :match_email, :match_phone, :match_company"
    with store.write() as conn:
        p = pipelines.get_pipeline(conn)
        stage = pipelines.stages(conn, p["id"], outcomes=False)[0]["id"]
        conn.execute(
            text(
                "INSERT INTO lead (id, pipeline_id, stage_id, status, name, company, email, phone, created_at,"
                f" stage_entered_at, last_event_at, furthest_position, fit_score, engagement, score, qualification{names}) "
                "VALUES (:i, :p, :s, 'open', :name, :company, :email, :phone, :at, :at, :at, 1, 0, 0, 0, 'incomplete'"
                f"{values})"
            ),
            [
                {
                    "i": i,
                    "p": p["id"],
                    "s": stage,
                    "at": NOW - i,
                    **c,
                    **(blocks(c["email"], c["phone"], c["company"]) if blocks is not None else {}),
                }
                for i, c in enumerate(contacts, 1)
            ],
        )
    store.dispose()
    return originals


def per_call(store, calls) -> tuple[float, float]:
    """Return the median (wall, CPU) seconds of `call(conn)` for each of `calls`, each in a transaction
    rolled back."""
    from pipecli.store import journal

    walls, cpus = [], []
    with store.engine.connect() as conn:
        for call in calls:
            tx = conn.begin()
            start, cpu = time.perf_counter(), time.process_time()
            call(conn)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
            tx.rollback()
            journal.journal_of(conn).rolled_back()  # its entry went with the transaction
    return statistics.median(walls), statistics.median(cpus)


def children_cpu() -> float:
    """Return the CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--companies", type=int, help="the leads' companies (default: one per 5 leads)")
    args = parser.parse_args()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as tmp:
        env = command_env(tmp, PIPECLI_USER="bench")
        os.environ.update(env)
        db = str(Path(tmp) / "dups.db")
        start = time.perf_counter()
        contacts = build(db, args.leads, rng, args.companies)
        over = f" at {args.companies} companies" if args.companies else ""
        print(f"{args.leads} open leads{over} built in {time.perf_counter() - start:.1f}s")

        from sqlalchemy import text

        from pipecli import identity, leads, merging, pipelines

        store = pipelines.open_store(db)
        new = [
            copy_of(rng, rng.choice(contacts)) if k % 2 else contact(rng, args.leads + 1 + k, args.companies)
            for k in range(args.adds)
        ]

        def add(c, checked):
            details = {k: v for k, v in c.items() if k != "name"}
            return lambda conn: (leads.add_checked if checked else leads.add_lead)(conn, c["name"], **details)

        def lookup(c):
            sql = text("SELECT id FROM lead WHERE lower(trim(email)) = :e AND status = 'open'")
            return lambda conn: conn.execute(sql, {"e": (c["email"] or "").lower()}).all()

        plain, plain_cpu = per_call(store, [add(c, False) for c in new])
        checked, checked_cpu = per_call(store, [add(c, True) for c in new])
        floor, floor_cpu = per_call(store, [lookup(c) for c in new])
        with store.read() as conn:
            found = sum(1 for c in new if identity.likely_duplicates(conn, identity.Contact(**c)))
        print(
            f"load average before the timings: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)"
        )
        print(f"\nadd-lead, median per lead over {args.adds} adds ({found} of them warned about a likely duplicate)")
        print("                                          wall        CPU")
        print(f"  floor: indexed exact-address lookup   {floor * 1000:8.2f} ms {floor_cpu * 1000:8.2f} ms")
        print(f"  add_lead (no check)                  {plain * 1000:8.2f} ms {plain_cpu * 1000:8.2f} ms")
        print(
            f"  add_checked (check + add)            {checked * 1000:8.2f} ms {checked_cpu * 1000:8.2f} ms  "
            f"(the check: {(checked - plain) * 1000:.2f} ms wall, {(checked_cpu - plain_cpu) * 1000:.2f} ms CPU; "
            f"{checked / plain:.2f}x the add alone)"
        )

        best_core = best_floor = (float("inf"), 0.0)
        for _ in range(args.runs):
            with store.read() as conn:
                start, cpu = time.perf_counter(), time.process_time()
                pairs = merging.duplicate_pairs(conn)
                best_core = min(best_core, (time.perf_counter() - start, time.process_time() - cpu))
                start, cpu = time.perf_counter(), time.process_time()
                exact = conn.execute(
                    text(
                        "SELECT lower(trim(email)), COUNT(*) FROM lead WHERE email IS NOT NULL "
                        "GROUP BY lower(trim(email)) HAVING COUNT(*) > 1"
                    )
                ).all()
                best_floor = min(best_floor, (time.perf_counter() - start, time.process_time() - cpu))
        store.dispose()
        best_cmd = (float("inf"), 0.0)
        for _ in range(args.runs):
            start, cpu = time.perf_counter(), children_cpu()
            subprocess.run(
                pipecli(db, "duplicates", "--format", "csv"),
                env=env,
                stdout=subprocess.DEVNULL,
                check=True,
            )
            best_cmd = min(best_cmd, (time.perf_counter() - start, children_cpu() - cpu))
        print(f"\nduplicates over {args.leads} leads, best of {args.runs} (wall, CPU)")
        print(
            f"  floor: GROUP BY exact address        {best_floor[0]:8.3f} s {best_floor[1]:8.3f} s  ({len(exact)} groups)"
        )
        print(
            f"  core merging.duplicate_pairs         {best_core[0]:8.3f} s {best_core[1]:8.3f} s  ({len(pairs)} pairs)"
        )
        print(f"  pipecli duplicates --format csv      {best_cmd[0]:8.3f} s {best_cmd[1]:8.3f} s")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
