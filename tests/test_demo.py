"""`pipecli demo`: the README's first command builds a pipeline worth exploring."""

import json


def test_demo_builds_a_realistic_pipeline_once(cli):
    board = cli("demo", "--leads", "60")
    assert board.stdout.startswith("Sales: ")
    counts = dict(cli.sql("SELECT status, COUNT(*) FROM lead GROUP BY status"))
    assert sum(counts.values()) == 60 and counts["open"] > 0 and counts["won"] > 0 and counts["lost"] > 0
    # months of history: every lead has its creation event, closed ones their closing event
    assert cli.scalar("SELECT COUNT(DISTINCT lead_id) FROM stage_change WHERE from_stage_id IS NULL") == 60
    assert cli.scalar("SELECT MAX(at) - MIN(at) FROM stage_change") > 150 * 86400
    # a seller's morning has something in it
    today = json.loads(cli("today", "--format", "json").stdout)
    assert today["follow_ups"] and today["ready"]
    assert json.loads(cli("clean", "--format", "json").stdout)
    # running it again shows the same pipeline rather than adding to it
    cli("demo", "--leads", "60")
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 60
