"""`pipecli pipeline ...`: several pipelines side by side, stage settings, rename, reorder, add, remove."""

import json


def stages(cli, name="Sales"):
    return json.loads(cli("pipeline", "show", name, "--format", "json").stdout)


def test_add_list_and_show_pipelines(cli):
    cli("pipeline", "add", "Outbound", "--stages", "New, Demo ,Proposal")
    cli("pipeline", "add", "Retention", "--stages", "Onboarding,Renewal")
    shown = stages(cli, "outbound")
    assert [(s["position"], s["stage"], s["kind"]) for s in shown] == [
        (1, "New", "open"),
        (2, "Demo", "open"),
        (3, "Proposal", "open"),
        (None, "won", "won"),
        (None, "lost", "lost"),
    ]
    cli("add-lead", "A", "--pipeline", "Outbound", "--value", "100")
    cli("add-lead", "B", "--pipeline", "Outbound", "--value", "250.50")
    listed = json.loads(cli("pipeline", "list", "--format", "json").stdout)
    assert [(p["name"], p["default"], p["stages"], p["open_leads"], p["open_value"]) for p in listed] == [
        ("Sales", True, 5, 0, None),
        ("Outbound", False, 3, 2, 350.5),
        ("Retention", False, 2, 0, None),
    ]
    for bad, message in [
        (["pipeline", "add", "sales", "--stages", "X"], "already exists"),
        (["pipeline", "add", "P2", "--stages", "A,a"], "listed twice"),
        (["pipeline", "add", "P3", "--stages", "A,Won"], "outcome"),
    ]:
        result = cli(*bad, ok=False)
        assert result.exit_code == 1 and message in result.stderr
    assert len(json.loads(cli("pipeline", "list", "--format", "json").stdout)) == 3


def test_stage_settings(cli):
    cli(
        "pipeline",
        "stage",
        "Sales",
        "meeting",
        "--probability",
        "0.4",
        "--stale-days",
        "7",
        "--triggers",
        "demo_request,quote_request",
    )
    meeting = next(s for s in stages(cli) if s["stage"] == "Meeting")
    assert (meeting["probability"], meeting["stale_days"], meeting["triggers"]) == (
        0.4,
        7,
        "demo_request,quote_request",
    )
    for args, message in [
        (["--probability", "1.5"], "between 0 and 1"),
        (["--stale-days", "0"], "at least 1"),
        (["--triggers", "smoke_signal"], "unknown activity kind"),
    ]:
        result = cli("pipeline", "stage", "Sales", "Meeting", *args, ok=False)
        assert result.exit_code == 1 and message in result.stderr
    assert next(s for s in stages(cli) if s["stage"] == "Meeting")["probability"] == 0.4


def test_rename_and_reorder_stages_keep_history(cli):
    lead = cli("add-lead", "Anna", "--at", "2026-11-01").stdout.strip()
    cli("move", lead, "Meeting", "--at", "2026-11-02")
    assert cli.scalar("SELECT furthest_position FROM lead") == 4
    cli("pipeline", "stage", "Sales", "Meeting", "--rename", "Discovery call", "--position", "2")
    assert [s["stage"] for s in stages(cli)][:5] == [
        "Prospecting",
        "Discovery call",
        "Contact",
        "Qualification",
        "Proposal",
    ]
    # furthest position follows the stage to its new place
    assert cli.scalar("SELECT furthest_position FROM lead") == 2
    shown = json.loads(cli("show", lead, "--format", "json").stdout)
    assert shown["stage"] == "Discovery call"
    assert [h["to_stage"] for h in shown["history"]] == ["Prospecting", "Discovery call"]
    result = cli("pipeline", "stage", "Sales", "Contact", "--rename", "discovery call", ok=False)
    assert result.exit_code == 1 and "already has a stage" in result.stderr


def test_add_and_remove_stages(cli):
    cli("pipeline", "add-stage", "Sales", "Negotiation", "--position", "5", "--probability", "0.8")
    assert [s["stage"] for s in stages(cli)][:6] == [
        "Prospecting",
        "Contact",
        "Qualification",
        "Meeting",
        "Negotiation",
        "Proposal",
    ]
    lead = cli("add-lead", "Anna", "--stage", "Negotiation", "--at", "2026-11-01").stdout.strip()
    refused = cli("pipeline", "remove-stage", "Sales", "Negotiation", ok=False)
    assert refused.exit_code == 1 and "still holds 1 lead" in refused.stderr
    assert "Negotiation" in [s["stage"] for s in stages(cli)]
    cli("move", lead, "Proposal", "--at", "2026-11-02")
    cli("pipeline", "remove-stage", "Sales", "Negotiation")
    assert [s["stage"] for s in stages(cli)][:5] == ["Prospecting", "Contact", "Qualification", "Meeting", "Proposal"]
    assert [s["position"] for s in stages(cli)][:5] == [1, 2, 3, 4, 5]
    # the history through the removed stage is still there and readable
    shown = json.loads(cli("show", lead, "--format", "json").stdout)
    assert [h["to_stage"] for h in shown["history"]] == ["Negotiation", "Proposal"]
    # an unused stage is removed outright
    cli("pipeline", "add-stage", "Sales", "Temp")
    cli("pipeline", "remove-stage", "Sales", "Temp")
    assert cli.scalar("SELECT COUNT(*) FROM stage WHERE name = 'Temp'") == 0
    result = cli("pipeline", "remove-stage", "Sales", "won", ok=False)
    assert result.exit_code == 1 and "cannot be removed" in result.stderr


def test_default_rename_and_delete_pipeline(cli):
    cli("pipeline", "add", "Inbound", "--stages", "New,Call")
    cli("pipeline", "default", "Inbound")
    lead = cli("add-lead", "Anna").stdout.strip()
    assert json.loads(cli("show", lead, "--format", "json").stdout)["pipeline"] == "Inbound"
    cli("pipeline", "rename", "Inbound", "Web leads")
    result = cli("pipeline", "delete", "Web leads", "--yes", ok=False)
    assert result.exit_code == 1 and "default pipeline" in result.stderr
    cli("pipeline", "default", "Sales")
    result = cli("pipeline", "delete", "Web leads", "--yes", ok=False)
    assert result.exit_code == 1 and "still holds 1 lead" in result.stderr
    cli("delete", lead, "--yes")
    cli("pipeline", "delete", "Web leads", "--yes")
    assert [p["name"] for p in json.loads(cli("pipeline", "list", "--format", "json").stdout)] == ["Sales"]
