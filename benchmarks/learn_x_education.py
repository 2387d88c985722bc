"""Held-out AUC of `pipecli score --learn` on the X Education leads (9,237 real leads, outcome `Converted`).

    python benchmarks/learn_x_education.py [--csv PATH] [--db PATH | --loader] [--fields a,b,c]

By default it imports the CSV into a fresh database in a temporary folder with pipecli's importer:

    pipecli --db x.db import Leads.csv --map "Prospect ID=external_id" --map "Converted=stage" --stage-map "1=won,0=lost"

(Converted 1 = won, 0 = lost, the other columns kept as extra fields). `--loader` writes the rows with
this script's own small loader instead (one lead per row, closed as won/lost, every other column an
extra field), and --db uses a database you imported yourself. `--exclude "Tags,Lead Quality"` leaves out the sales team's own notes, partly written after the outcome.
Then it runs `pipecli score --learn` through the CLI and prints the AUC next to the reference
(a good model on this file scores well above 0.85). The file has no dates, so the held-out fifth is a
seeded random one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

DEFAULT_CSV = Path("/work/shared/data/x-education-leads/Leads.csv")
REFERENCE_AUC = 0.85
LOADED_AT = 1790000000  # one fixed moment for every lead: the file has no dates


def load(csv_path: Path, db: str) -> int:
    """Write the CSV's rows into `db` as leads, stage changes and extra fields; return the number of leads."""
    from sqlalchemy import text

    from pipecli import pipelines
    from pipecli.scoring import score as scoring
    from pipecli.store.db import Store

    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    store = Store.open(db, create=True)
    try:
        with store.write() as conn:
            pipeline = pipelines.get_pipeline(conn)
            outcome = {s["kind"]: s["id"] for s in pipelines.stages(conn, pipeline["id"]) if s["kind"] != "open"}
            first = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM lead")).scalar() + 1
            leads, changes, extras = [], [], []
            for i, row in enumerate(rows):
                lead_id = first + i
                status = "won" if row["Converted"].strip() == "1" else "lost"
                leads.append(
                    {
                        "id": lead_id,
                        "p": pipeline["id"],
                        "s": outcome[status],
                        "st": status,
                        "name": f"Lead {row['Lead Number']}",
                        "ext": row["Prospect ID"],
                        "at": LOADED_AT,
                    }
                )
                changes.append({"l": lead_id, "s": outcome[status], "a": LOADED_AT})
                extras += [
                    {"l": lead_id, "k": key, "v": value}
                    for key, value in row.items()
                    if key not in ("Prospect ID", "Converted") and value is not None and value.strip() != ""
                ]
            conn.execute(
                text(
                    "INSERT INTO lead (id, pipeline_id, stage_id, status, name, external_id, created_at, closed_at,"
                    " stage_entered_at, last_event_at, furthest_position, fit_score, engagement, score, qualification) "
                    "VALUES (:id, :p, :s, :st, :name, :ext, :at, :at, :at, :at, 1, 0, 0, 0, 'incomplete')"
                ),
                leads,
            )
            conn.execute(
                text("INSERT INTO stage_change (lead_id, from_stage_id, to_stage_id, at) VALUES (:l, NULL, :s, :a)"),
                changes,
            )
            conn.execute(text("INSERT INTO lead_extra (lead_id, key, value) VALUES (:l, :k, :v)"), extras)
            scoring.recompute(conn)
    finally:
        store.dispose()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--db", help="an already imported database (default: load the CSV into a fresh one)")
    parser.add_argument("--loader", action="store_true", help="load with this script's loader, not `pipecli import`")
    parser.add_argument("--fields", help="fields to learn from (default: pipecli's defaults)")
    parser.add_argument("--exclude", help="learn from every field but these, a,b (e.g. 'Tags,Lead Quality')")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if db is None:
            db = str(Path(tmp) / "x-education.db")
            start = time.perf_counter()
            if args.loader:
                said = f"{load(args.csv, db)} leads (benchmark loader)"
            else:
                said = (
                    subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "pipecli",
                            "--db",
                            db,
                            "import",
                            str(args.csv),
                            "--map",
                            "Prospect ID=external_id",
                            "--map",
                            "Converted=stage",
                            "--stage-map",
                            "1=won,0=lost",
                        ],
                        capture_output=True,
                        text=True,
                        cwd=ROOT,
                        env=env,
                        check=True,
                    )
                    .stderr.strip()
                    .splitlines()[-1]
                    + " (pipecli import)"
                )
            print(f"loaded in {time.perf_counter() - start:.1f}s: {said}")
        cmd = [sys.executable, "-m", "pipecli", "--db", db, "score", "--learn", "--format", "json"]
        fields = args.fields
        if args.exclude:
            import sqlite3

            dropped = {f.strip().lower() for f in args.exclude.split(",")}
            with sqlite3.connect(db) as raw:
                keys = [k for (k,) in raw.execute("SELECT DISTINCT key FROM lead_extra ORDER BY key")]
            fields = ",".join(["source"] + [k for k in keys if k.lower() not in dropped])
        if fields:
            cmd += ["--fields", fields]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        took = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(proc.stderr.strip())
        report = json.loads(proc.stdout)
    print(
        f"score --learn: {report['method']}, learned from {report['learned_from']} closed leads "
        f"({report['won']} won, {report['lost']} lost) in {took:.1f}s\n"
        f"held-out AUC {report['auc']:.4f} on a {report['split']} {report['held_out']} "
        f"(fitted on {report['trained_on']})   reference: well above {REFERENCE_AUC}\n"
        f"fields used ({len(report['fields'])}): {', '.join(report['fields'])}\n"
        f"skipped: {', '.join(report['skipped']) or 'none'}"
    )


if __name__ == "__main__":
    main()
