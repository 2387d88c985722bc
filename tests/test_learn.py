"""`pipecli score --learn`: P(won) learned from closed leads, held-out AUC, refusal with too few, stored model."""

import json
import random

import pytest


def build(cli, won_gold=0.85, won_other=0.1, n_closed=300, n_open=20, closed_same_time=False, pipeline=None):
    """Leads whose outcome depends on the extra field `tier` (gold wins far more often), plus noise fields.
    Closed leads close one hour apart (or all at once), so the newest ones can be held out."""
    from sqlalchemy import text

    from pipecli import leads

    rng = random.Random(7)
    store = cli.store()
    try:
        with store.write() as conn:
            for i in range(n_closed + n_open):
                created = 1780000000 + i * 3600
                lead_id = leads.add_lead(
                    conn, f"Lead {i}", source=rng.choice(["web", "event"]), at=created, pipeline=pipeline
                )
                tier = "gold" if rng.random() < 0.4 else "basic"
                for key, value in (
                    ("tier", tier),
                    ("colour", rng.choice(["red", "blue", "Select"])),
                    ("visits", str(rng.randint(0, 30))),
                ):
                    conn.execute(
                        text("INSERT INTO lead_extra (lead_id, key, value) VALUES (:l, :k, :v)"),
                        {"l": lead_id, "k": key, "v": value},
                    )
                if i < n_closed:
                    won = rng.random() < (won_gold if tier == "gold" else won_other)
                    at = 1790000000 if closed_same_time else created + 60
                    leads.move_lead(conn, lead_id, "won" if won else "lost", at)
    finally:
        store.dispose()


def learned(cli, *args):
    return json.loads(cli("score", "--learn", "--format", "json", *args).stdout)


def test_learns_a_field_that_decides_the_outcome(cli):
    build(cli)
    report = learned(cli)
    closed = cli.sql("SELECT status FROM lead WHERE status IN ('won', 'lost')")
    won = sum(1 for (s,) in closed if s == "won")
    assert report["learned_from"] == len(closed) == 300
    assert (report["won"], report["lost"]) == (won, 300 - won)
    assert report["split"] == "newest" and report["held_out"] == 60 and report["trained_on"] == 240
    # Gold converts at 85%, basic at 10%: a model that finds `tier` ranks far better than chance.
    assert report["auc"] > 0.8
    assert "tier" in report["fields"] and "visits" in report["fields"]
    # Open leads get a probability; gold ones higher than basic ones.
    rows = cli.sql(
        "SELECT e.value, l.win_probability FROM lead l JOIN lead_extra e ON e.lead_id = l.id AND e.key = 'tier' WHERE l.status = 'open'"
    )
    gold = [p for tier, p in rows if tier == "gold"]
    basic = [p for tier, p in rows if tier == "basic"]
    assert gold and basic and min(gold) > max(basic)
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE status <> 'open' AND win_probability IS NOT NULL") == 0
    model = json.loads(cli.scalar("SELECT value FROM meta WHERE key = 'win_model'"))
    assert model["auc"] == report["auc"]
    # `score` shows the probability next to the score; --explain shows which field values made it.
    ranked = json.loads(cli("score", "--format", "json").stdout)
    assert all(r["win_probability"] is not None for r in ranked)
    open_lead, open_tier = cli.sql(
        "SELECT l.id, e.value FROM lead l JOIN lead_extra e ON e.lead_id = l.id AND e.key = 'tier' WHERE l.status = 'open' LIMIT 1"
    )[0]
    factors = json.loads(cli("score", str(open_lead), "--explain", "--format", "json").stdout)["win_factors"]
    assert {"field": "tier", "bucket": open_tier, "weight": model["weights"]["tier"][open_tier]} in factors


def test_a_new_lead_gets_a_probability_from_the_stored_model(cli):
    build(cli)
    learned(cli)
    lead = cli("add-lead", "Newcomer").stdout.strip()
    assert cli.scalar("SELECT win_probability FROM lead WHERE id = :l", l=int(lead)) is not None


def test_random_split_when_all_closed_at_once(cli):
    build(cli, closed_same_time=True)
    first = learned(cli)
    assert first["split"] == "random" and first["auc"] > 0.8
    assert learned(cli)["auc"] == first["auc"]  # seeded: the same split every time


def test_fields_option_limits_what_is_learned(cli):
    build(cli)
    report = learned(cli, "--fields", "colour,source")
    assert set(report["fields"]) == {"colour", "source"}
    assert report["auc"] < 0.7  # noise fields cannot predict the outcome
    result = cli("score", "--learn", "--fields", "shoe_size", ok=False)
    assert result.exit_code == 1 and "unknown field" in result.stderr


def test_refuses_with_too_few_closed_leads_of_one_outcome(cli):
    build(cli, won_gold=0.0, won_other=0.0, n_closed=40)  # all lost
    result = cli("score", "--learn", ok=False)
    assert result.exit_code == 1
    assert "too few closed leads" in result.stderr and "0 won and 40 lost" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM meta WHERE key = 'win_model'") == 0
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE win_probability IS NOT NULL") == 0


def test_auc_is_the_probability_a_won_lead_ranks_above_a_lost_one():
    from pipecli.scoring.learn import auc

    assert auc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]) == 1.0
    assert auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]) == 0.5
    # pairs (won, lost): (0.9,0.8) yes, (0.9,0.2) yes, (0.4,0.8) no, (0.4,0.2) yes -> 3 of 4
    assert auc([0.9, 0.4, 0.8, 0.2], [1, 1, 0, 0]) == pytest.approx(0.75)
    assert auc([0.3, 0.4], [1, 1]) is None


def test_imported_leads_get_the_scores_recompute_gives(cli, tmp_path):
    """The bulk importer scores a batch column by column; `score --recompute` scores lead by lead. With a
    learned model over an extra field and the default fit rules, both give every lead the same figures."""
    build(cli)
    learned(cli)
    rng = random.Random(3)
    rows = [
        f"Imported {i},{rng.choice(['referral', 'event', 'web', ''])},{rng.choice(['', '500', '12000', '10000.50'])},"
        f"{rng.choice(['', 'Acme'])},{rng.choice(['gold', 'basic', ''])},{rng.choice(['Contact', 'won', 'lost'])}"
        for i in range(200)
    ]
    (tmp_path / "new.csv").write_text("name,source,amount,company,tier,stage\n" + "\n".join(rows) + "\n")
    cli("import", str(tmp_path / "new.csv"))
    query = "SELECT id, fit_score, score, win_probability FROM lead WHERE name LIKE 'Imported %' ORDER BY id"
    imported = cli.sql(query)
    assert len(imported) == 200
    assert len({r[1] for r in imported}) > 3  # the rules really told these leads apart
    assert {r[3] is None for r in imported} == {True, False}  # open ones got a probability, closed ones none
    cli("score", "--recompute")
    recomputed = cli.sql(query)
    assert [r[:3] for r in recomputed] == [r[:3] for r in imported]

    def rounded(rows):
        return [None if r[3] is None else round(r[3], 9) for r in rows]

    assert rounded(recomputed) == rounded(imported)


def test_learn_per_pipeline_fits_that_pipeline_only(cli):
    """Two pipelines where the same field points opposite ways: `--pipeline` learns from its own deals,
    scores its own open leads, and leaves the other pipeline's probabilities alone."""
    from pipecli import pipelines

    build(cli)  # Sales: gold wins 85 %, basic 10 %
    store = cli.store()
    try:
        with store.write() as conn:
            partners = pipelines.create_pipeline(conn, "Partners", [("Talk", 0.5, None)])
    finally:
        store.dispose()
    build(cli, won_gold=0.1, won_other=0.85, pipeline="Partners")  # the other way round
    learned(cli)  # every pipeline's deals: tier nearly cancels out
    sales_before = cli.sql(
        "SELECT id, win_probability FROM lead WHERE pipeline_id <> :p AND status = 'open'", p=partners
    )
    report = learned(cli, "--pipeline", "Partners")
    assert (report["pipeline"], report["learned_from"], report["open_leads"]) == ("Partners", 300, 20)
    assert report["auc"] > 0.8
    rows = cli.sql(
        "SELECT e.value, l.win_probability FROM lead l JOIN lead_extra e ON e.lead_id = l.id AND e.key = 'tier' "
        "WHERE l.status = 'open' AND l.pipeline_id = :p",
        p=partners,
    )
    gold = [p for tier, p in rows if tier == "gold"]
    basic = [p for tier, p in rows if tier == "basic"]
    assert gold and basic and max(gold) < min(basic)  # in Partners gold loses
    assert (
        cli.sql("SELECT id, win_probability FROM lead WHERE pipeline_id <> :p AND status = 'open'", p=partners)
        == sales_before
    )
    stored = json.loads(cli.scalar("SELECT value FROM meta WHERE key = :k", k=f"win_model:{partners}"))
    assert stored["auc"] == report["auc"]
    # a later write to a Partners lead is scored by Partners' model, not the one of every pipeline
    lead = cli.scalar("SELECT id FROM lead WHERE pipeline_id = :p AND status = 'open' LIMIT 1", p=partners)
    before = cli.scalar("SELECT win_probability FROM lead WHERE id = :l", l=lead)
    cli("edit", lead, "--phone", "+39 02 1234567")
    assert cli.scalar("SELECT win_probability FROM lead WHERE id = :l", l=lead) == pytest.approx(before)
    forecast = json.loads(cli("forecast", "--pipeline", "Partners", "--format", "json", "--runs", "200").stdout)
    assert forecast["probabilities"] == "learned"  # auto read Partners' own held-out AUC
