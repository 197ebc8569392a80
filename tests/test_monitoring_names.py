"""The alert rules and the Grafana dashboards name only metrics the code exports (a
renamed metric would leave an alert that never fires, a panel that shows nothing), and
the rules' own unit tests feed only such series."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import api.metrics  # noqa: F401  (defines and registers every metric of the API and the worker)

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
# What Prometheus and the blackbox exporter make themselves, not Flowdesk.
SCRAPER_NAMES = {"up", "probe_success"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "unknown": ("",),
}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan"}


def exported() -> set[str]:
    """Every series name this process's registry serves, with each type's suffixes (a
    labelled metric that has counted nothing yet serves no sample, but is exported)."""
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + suffix for suffix in _SUFFIXES[family.type]}
        names |= {sample.name for sample in family.samples}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana query) selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings: label values, formats
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r",\s*\w+\s*\)", ")", expr) if "label_values" in expr else expr
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        name, call = match.groups()
        if call or name.lower() in _KEYWORDS:
            continue  # a function or an aggregation, or an operator
        names.add(name)
    return names


def rule_exprs() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def recorded() -> set[str]:
    return {
        rule["record"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def dashboard_exprs(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every query of a dashboard: panels' targets and template variables."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{node.get('title') or node.get('name') or key}"
            if (key in ("expr", "definition") and isinstance(value, str)) or (
                key == "query" and isinstance(value, str) and "(" in value
            ):
                yield here, value
            else:
                yield from dashboard_exprs(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_exprs(item, where)


def known() -> set[str]:
    return exported() | SCRAPER_NAMES | recorded()


def test_the_parser_finds_the_names_of_an_expression() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, kind) (rate(x_bucket{job="a", kind=~"b|c"}[5m])))'
        ' / on(job) group_left sum(y_total offset 5m) > 2 and label_values(up{job="$j"}, inst)'
    )
    assert metric_names(expr) == {"x_bucket", "y_total", "up"}


def test_the_registry_lists_suffixed_names_of_metrics_that_counted_nothing() -> None:
    names = exported()
    assert {"flowdesk_incidents_total", "flowdesk_instance_duration_seconds_bucket"} <= names
    assert {"flowdesk_db_pool_checked_out", "process_resident_memory_bytes"} <= names


def test_alert_and_recording_rules_use_only_exported_metrics() -> None:
    names = known()
    unknown = {(rule, name) for rule, expr in rule_exprs() for name in metric_names(expr) - names}
    assert not unknown, unknown


def test_dashboards_use_only_exported_metrics() -> None:
    names = known()
    dashboards = sorted((DEPLOY / "grafana").glob("*.json"))
    assert {d.name for d in dashboards} >= {"dashboard.json", "business.json"}
    for path in dashboards:
        queries = list(dashboard_exprs(json.loads(path.read_text())))
        assert queries, path
        unknown = {(where, n) for where, expr in queries for n in metric_names(expr) - names}
        assert not unknown, (path.name, unknown)


def test_the_rules_unit_tests_feed_only_exported_series() -> None:
    tests = yaml.safe_load((DEPLOY / "prometheus" / "rules_test.yml").read_text())
    names = known()
    fed = {
        re.match(r"[A-Za-z_:][\w:]*", series["series"]).group(0)  # type: ignore[union-attr]
        for test in tests["tests"]
        for series in test["input_series"]
    }
    assert fed - names == set()
