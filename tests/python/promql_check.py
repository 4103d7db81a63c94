#!/usr/bin/env python3
"""Evaluates every PromQL expression of Hydrate's dashboards and alert rules
against a real Prometheus.

    python tests/python/promql_check.py --prometheus http://127.0.0.1:19090 [--require-series]

Expressions come from deploy/grafana/*.json (every panel target's `expr` and
every `label_values(...)` variable query) and deploy/prometheus/*.yml (every
rule's `expr`). Each is sent to /api/v1/query; a parse or evaluation error
fails. With --require-series:
  - a dashboard expression must return at least one series;
  - an alert rule's expression usually returns nothing while all is well
    (`... > 0` is empty until something fails), so two things are required
    instead: the rule's expression without its threshold comparisons (each
    operand of a top-level `and`/`or`/`unless` with a trailing
    `> N`, `== N`, ... cut off: `sum by (type) (tasks{state="failed"}) > 0`
    becomes `sum by (type) (tasks{state="failed"})`) must return series,
    so the quantity the alert compares is computed and its labels join;
    and each metric selector inside it must return series (the alert can
    see its inputs).
Independently of Prometheus, every `hydrate_*` metric named must be in the
contract (docs/metrics.md). Grafana's variables are replaced before
evaluation: `$__rate_interval` by --rate-interval (default 1m), other
`$__*` intervals likewise, and dashboard variables (`$connector`, `$type`,
...) by `.*`, the "All" value of their regex matchers.

Exits 1 when anything failed; the last line is "N passed, M failed".
"""

import argparse
import json
import pathlib
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\b(hydrate_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b(hydrate_[a-z0-9_]+)(\{[^{}]*\})?")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load_yaml(path):
    try:
        import yaml  # noqa: PLC0415 - only needed for the rule files
    except ImportError:
        sys.exit("promql_check: PyYAML is missing (pip install -r scripts/requirements.txt)")
    with open(path) as f:
        return yaml.safe_load(f)


def dashboard_expressions(path):
    """(where, expr, kind) for every target and variable query of a dashboard."""
    doc = json.loads(path.read_text())
    out = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    out.append((f"{path.name}: {panel.get('title')} [{target.get('refId')}]", target["expr"], "panel"))
            walk(panel.get("panels", []))

    walk(doc.get("panels", []))
    for var in doc.get("templating", {}).get("list", []):
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if var.get("type") == "query" and isinstance(query, str):
            m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", query)
            expr = m.group(1) if m else query
            out.append((f"{path.name}: variable ${var.get('name')}", expr, "panel"))
    return out


def rule_expressions(path):
    doc = load_yaml(path) or {}
    out = []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            out.append((f"{path.name}: {group.get('name')}/{name}", str(rule["expr"]), "rule"))
    return out


def substitute(expr, rate_interval):
    expr = expr.replace("$__rate_interval", rate_interval).replace("${__rate_interval}", rate_interval)
    expr = re.sub(r"\$\{?__(interval|range)\}?", rate_interval, expr)
    # Dashboard variables sit in regex matchers (=~"$connector"): All is .*
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".*", expr)


COMPARISON = re.compile(r"\s*(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?-?[0-9][0-9.e+]*\s*$")
SET_OPERATOR = re.compile(r"\b(and|or|unless)\b")


def split_top_level(expr):
    """The operands and operators of expr's top-level and/or/unless."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(expr):
        c = expr[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == '"':
            i = expr.index('"', i + 1)
        elif depth == 0:
            m = SET_OPERATOR.match(expr, i)
            if m and (i == 0 or not (expr[i - 1].isalnum() or expr[i - 1] == "_")):
                parts.append(expr[start:i])
                parts.append(m.group(1))
                i = start = m.end()
                continue
        i += 1
    parts.append(expr[start:])
    return parts


def without_thresholds(expr):
    """expr with the trailing number comparison of each top-level operand
    removed; the same text when there is none."""
    parts = split_top_level(" ".join(expr.split()))
    out = []
    for part in parts:
        out.append(part if part in ("and", "or", "unless") else COMPARISON.sub("", part).strip())
    return " ".join(out)


def contract_names(path):
    names = set()
    for line in path.read_text().splitlines():
        m = re.match(r"\|\s*`(hydrate_[a-z0-9_]+)`", line)
        if m:
            names.add(m.group(1))
    return names


def base_name(metric, known):
    if metric in known:
        return metric
    for suffix in HISTOGRAM_SUFFIXES:
        if metric.endswith(suffix) and metric[: -len(suffix)] in known:
            return metric[: -len(suffix)]
    return None


def query(prometheus, expr, timeout):
    url = prometheus.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as err:
        try:
            body = json.load(err)
        except ValueError:
            return None, f"HTTP {err.code}"
    except (urllib.error.URLError, TimeoutError, ValueError) as err:
        return None, f"cannot query {prometheus}: {err}"
    if body.get("status") != "success":
        return None, f"{body.get('errorType')}: {body.get('error')}"
    data = body.get("data", {})
    result = data.get("result")
    if data.get("resultType") in ("scalar", "string"):
        return 1, None
    return len(result or []), None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prometheus", help="Prometheus base URL, e.g. http://127.0.0.1:19090 (omit for the static checks only)")
    ap.add_argument("--require-series", action="store_true", help="fail expressions that return no series")
    ap.add_argument("--rate-interval", default="1m", help="what $__rate_interval becomes (default 1m)")
    ap.add_argument("--root", type=pathlib.Path, default=ROOT, help="repository root")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="check only expressions whose file or title contains TEXT (repeatable)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)

    root = args.root
    expressions = []
    for path in sorted((root / "deploy/grafana").glob("*.json")):
        expressions += dashboard_expressions(path)
    for path in sorted((root / "deploy/prometheus").glob("*.yml")):
        expressions += rule_expressions(path)
    if args.only:
        expressions = [e for e in expressions if any(t in e[0] for t in args.only)]
    if not expressions:
        print("promql_check: no expressions found under deploy/", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    known = contract_names(root / "docs/metrics.md")

    passed = failed = 0
    for where, raw, kind in expressions:
        problems = []
        unknown = sorted({m for m in METRIC.findall(raw) if base_name(m, known) is None})
        if unknown:
            problems.append(f"not in docs/metrics.md: {', '.join(unknown)}")
        expr = substitute(raw, args.rate_interval)
        if args.prometheus:
            count, error = query(args.prometheus, expr, args.timeout)
            if error:
                problems.append(error)
            elif args.require_series and kind == "panel" and count == 0:
                problems.append("returned no series")
            elif args.require_series and kind == "rule":
                bare = without_thresholds(expr)
                n, err = (count, None) if bare == " ".join(expr.split()) else query(args.prometheus, bare, args.timeout)
                if err or not n:
                    problems.append(f"without its threshold, {bare} returned no series" + (f" ({err})" if err else ""))
                for name, matchers in SELECTOR.findall(expr):
                    selector = name + (matchers or "")
                    n, err = query(args.prometheus, selector, args.timeout)
                    if err or not n:
                        problems.append(f"input {selector} returned no series" + (f" ({err})" if err else ""))
            if args.verbose and not problems:
                print(f"ok   {where}: {count} series")
        if problems:
            failed += 1
            print(f"FAIL {where}\n     {raw}\n     " + "\n     ".join(problems))
        else:
            passed += 1
    print(f"promql_check: {len(expressions)} expressions from deploy/grafana and deploy/prometheus")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
