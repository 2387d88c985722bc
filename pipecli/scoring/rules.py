"""The scoring settings in force: fit rules, points per activity kind, the half-life and the hot threshold.

Config (`[scoring]`, every key optional):

    hot_threshold = 50
    half_life_days = 14
    [scoring.points]          # merged over DEFAULT_POINTS
    reply = 12
    [[scoring.rules]]         # when given, these replace DEFAULT_RULES
    field = "source"
    equals = "referral"
    points = 15
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecli import config
from pipecli.activities import check_kind
from pipecli.clock import DAY
from pipecli.config import setting
from pipecli.errors import PipecliError
from pipecli.scoring.fields import as_number, lookup

DEFAULT_HOT_THRESHOLD = 50.0


DEFAULT_HALF_LIFE_DAYS = 14.0


# Points per activity kind: what the lead does counts more than what the seller does, and a request to
# buy (demo, quote, a finished trial) most of all.
DEFAULT_POINTS = {
    "demo_request": 30,
    "quote_request": 30,
    "trial_end": 25,
    "contract_sent": 20,
    "reply": 15,
    "meeting": 15,
    "trial_start": 15,
    "demo": 10,
    "quote": 10,
    "webinar": 8,
    "call": 5,
    "visit": 3,
    "email_opened": 2,
    "social": 2,
    "sms": 2,
    "email": 1,
    "note": 0,
    "auto_reply": 0,  # no sign of life: activities.NOT_ENGAGEMENT, whatever the config says
}


DEFAULT_RULES = [
    {"field": "source", "equals": "referral", "points": 15},
    {"field": "source", "in": ["partner", "event", "webinar"], "points": 8},
    {"field": "value", "at_least": 10000, "points": 10},
    {"field": "company", "present": True, "points": 5},
]


@dataclass(frozen=True)
class Rule:
    field: str
    op: str  # equals | in | at_least | present
    target: Any  # str (equals), tuple[str, ...] (in), float (at_least), None (present)
    points: float

    @property
    def label(self) -> str:
        if self.op == "equals":
            return f"{self.field} is {self.target}"
        if self.op == "in":
            return f"{self.field} in {', '.join(self.target)}"
        if self.op == "at_least":
            return f"{self.field} >= {self.target:g}"
        return f"{self.field} is set"

    def matches(self, value: object) -> bool:
        """Return True when a field's value (text, number or None) satisfies the rule."""
        if self.op == "present":
            return value is not None and str(value).strip() != ""
        if value is None:
            return False
        if self.op == "at_least":
            number = as_number(value)
            return number is not None and number >= self.target
        word = str(value).strip().lower()
        if self.op == "equals":
            return bool(word == self.target.lower())
        return word in {t.lower() for t in self.target}


@dataclass(frozen=True)
class ScoringSection:
    """The `[scoring]` config section (see the module docstring)."""

    hot_threshold: float = setting(DEFAULT_HOT_THRESHOLD)
    half_life_days: float = setting(DEFAULT_HALF_LIFE_DAYS, above=0)
    points: dict[str, float] = setting({})  # merged over DEFAULT_POINTS  # noqa: RUF009
    rules: list[dict[str, Any]] | None = setting(None)  # when given, these replace DEFAULT_RULES  # noqa: RUF009


def _settings() -> ScoringSection:
    return config.section("scoring", ScoringSection)


def hot_threshold() -> float:
    """Return the total at or above which a lead is hot (config `[scoring] hot_threshold`)."""
    return _settings().hot_threshold


def half_life_seconds() -> float:
    """Return the engagement half-life in seconds (config `[scoring] half_life_days`)."""
    return _settings().half_life_days * DAY


def points() -> dict[str, float]:
    """Return the points per activity kind in force: DEFAULT_POINTS with config `[scoring.points]` over them."""
    merged: dict[str, float] = dict(DEFAULT_POINTS)
    for kind, number in _settings().points.items():
        merged[check_kind(kind)] = number
    return merged


def rules() -> list[Rule]:
    """Return the fit rules in force: config `[[scoring.rules]]` when given, else DEFAULT_RULES."""
    raw = _settings().rules
    return [_rule(r, i) for i, r in enumerate(DEFAULT_RULES if raw is None else raw, start=1)]


def _rule(raw: object, number: int) -> Rule:
    where = f"config [[scoring.rules]] #{number}"
    if not isinstance(raw, dict) or not str(raw.get("field", "")).strip():
        raise PipecliError(f"{where} needs a `field`")
    ops = [op for op in ("equals", "in", "at_least", "present") if op in raw]
    if len(ops) != 1:
        raise PipecliError(f"{where} needs exactly one of equals, in, at_least, present")
    op = ops[0]
    target: Any = raw[op]
    if op == "in":
        if not isinstance(target, list) or not target:
            raise PipecliError(f"{where}: `in` must be a non-empty list")
        target = tuple(str(t).strip() for t in target)
    elif op == "at_least":
        target = as_number(target)
        if target is None:
            raise PipecliError(f"{where}: `at_least` must be a number")
    elif op == "equals":
        target = str(target).strip()
    pts = as_number(raw.get("points"))
    if pts is None:
        raise PipecliError(f"{where} needs a number of `points`")
    return Rule(str(raw["field"]).strip(), op, target, pts)


def fit_of(values: dict[str, Any], rule_list: list[Rule]) -> list[tuple[Rule, object, float]]:
    """Return each rule with the lead's value for its field and the points it earns (0 when unmatched)."""
    out: list[tuple[Rule, object, float]] = []
    for rule in rule_list:
        value = lookup(values, rule.field)
        out.append((rule, value, rule.points if rule.matches(value) else 0.0))
    return out


def rules_in_force() -> dict[str, Any]:
    """Return the fit rules, activity points, half-life and hot threshold in force (for `score --rules`)."""
    return {
        "rules": [{"rule": r.label, "field": r.field, "points": r.points} for r in rules()],
        "points": [{"kind": k, "points": v} for k, v in sorted(points().items(), key=lambda kv: -kv[1])],
        "half_life_days": half_life_seconds() / DAY,
        "hot_threshold": hot_threshold(),
        "custom_rules": _settings().rules is not None,
    }
