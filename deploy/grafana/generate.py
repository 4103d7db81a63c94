#!/usr/bin/env python3
"""Generates Hydrate's Grafana dashboards (control-plane.json, sources.json,
sinks.json): edit this file, then run

    python3 deploy/grafana/generate.py deploy/grafana

tests/python/deploy_check.py fails when the JSON and this script disagree,
and tests/python/promql_check.py evaluates every expression against a
Prometheus. Every metric is from docs/metrics.md; `$__rate_interval` and the
`$datasource` / `$connector` / `$type` variables are Grafana's.
"""
import json, sys
OUT = sys.argv[1]
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"

def templating(extra):
    vars_ = [{
        "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
        "current": {}, "hide": 0, "refresh": 1, "options": [],
    }]
    for name, query, label in extra:
        vars_.append({
            "name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
            "definition": query, "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1, "options": [],
        })
    return {"list": vars_}

class Dash:
    def __init__(self, uid, title, description, tags, variables):
        self.uid, self.title, self.desc, self.tags, self.vars = uid, title, description, tags, variables
        self.panels, self.y, self.next_id = [], 0, 1

    def row(self, title):
        self.panels.append({"id": self.next_id, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.next_id += 1
        self.y += 1
        self.x = 0

    def panel(self, kind, title, targets, unit="short", w=12, h=8, desc="", stack=False, thresholds=None, min0=True):
        if getattr(self, "x", 0) + w > 24:
            self.x = 0
            self.y += h
        fieldcfg = {"defaults": {"unit": unit, "custom": {}}, "overrides": []}
        if min0:
            fieldcfg["defaults"]["min"] = 0
        if thresholds:
            fieldcfg["defaults"]["thresholds"] = {"mode": "absolute", "steps": thresholds}
            fieldcfg["defaults"]["color"] = {"mode": "thresholds"}
        if kind == "timeseries":
            fieldcfg["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                              "showPoints": "never",
                                              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
        p = {"id": self.next_id, "type": kind, "title": title, "description": desc, "datasource": DS,
             "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
             "fieldConfig": fieldcfg,
             "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": l,
                          "range": kind != "table", "instant": kind == "table"} for i, (e, l) in enumerate(targets)]}
        if kind == "timeseries":
            p["options"] = {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        elif kind == "stat":
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                            "colorMode": "background", "graphMode": "area", "textMode": "auto"}
        elif kind == "table":
            p["options"] = {"showHeader": True}
            p["transformations"] = [{"id": "merge", "options": {}}]
        self.panels.append(p)
        self.next_id += 1
        self.x = getattr(self, "x", 0) + w
        if self.x >= 24:
            self.x = 0
            self.y += h

    def dump(self, path):
        d = {"uid": self.uid, "title": self.title, "description": self.desc, "tags": ["hydrate"] + self.tags,
             "timezone": "utc", "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
             "refresh": "10s", "time": {"from": "now-1h", "to": "now"},
             "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                           "pluginId": "prometheus", "pluginName": "Prometheus"}],
             "templating": templating(self.vars), "annotations": {"list": []}, "links": [
                 {"title": "Hydrate", "type": "dashboards", "tags": ["hydrate"], "asDropdown": True}],
             "panels": self.panels}
        with open(path, "w") as f:
            json.dump(d, f, indent=2)
            f.write("\n")

GREEN_RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]

# ---------------- control plane
d = Dash("hydrate-control-plane", "Hydrate / Control plane",
         "Leadership, worker leases, assignments, connectors and tasks by state, and the gRPC API.",
         ["control-plane"], [("type", "label_values(hydrate_control_plane_tasks, type)", "Type")])
d.row("Overview")
d.panel("stat", "Leaders", [("sum(hydrate_control_plane_is_leader)", "leaders")], w=4, h=5,
        thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}, {"color": "red", "value": 2}],
        desc="Replicas that hold the leadership: exactly 1 is healthy.")
d.panel("stat", "Failed tasks", [('sum(hydrate_control_plane_tasks{state="failed",type=~"$type"})', "failed")],
        w=4, h=5, thresholds=GREEN_RED)
d.panel("stat", "Failed connectors", [('sum(hydrate_control_plane_connectors{state="failed",type=~"$type"})', "failed")],
        w=4, h=5, thresholds=GREEN_RED)
d.panel("stat", "Running tasks", [('sum(hydrate_control_plane_tasks{state="running",type=~"$type"})', "running")],
        w=4, h=5)
d.panel("stat", "Unassigned tasks", [('sum(hydrate_control_plane_tasks{state="unassigned",type=~"$type"})', "unassigned")],
        w=4, h=5, thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}])
d.panel("stat", "Workers", [('sum(hydrate_control_plane_workers{type=~"$type"})', "workers")], w=4, h=5)
d.row("Connectors and tasks")
d.panel("timeseries", "Tasks by state", [('sum by (type, state) (hydrate_control_plane_tasks{type=~"$type"})', "{{type}} {{state}}")],
        stack=True, desc="The leader's census of every task's state.")
d.panel("timeseries", "Connectors by state", [('sum by (type, state) (hydrate_control_plane_connectors{type=~"$type"})', "{{type}} {{state}}")],
        stack=True)
d.row("Leases and assignments")
d.panel("timeseries", "Worker leases", [
    (f'sum by (type) (rate(hydrate_control_plane_leases_granted_total{{type=~"$type"}}[{RI}]))', "granted {{type}}"),
    (f'sum by (type) (rate(hydrate_control_plane_lease_renewals_total{{type=~"$type"}}[{RI}]))', "renewed {{type}}"),
    (f'sum(rate(hydrate_control_plane_leases_expired_total[{RI}]))', "renewals refused (expired)"),
], unit="ops", w=8)
d.panel("timeseries", "Assignment changes", [
    (f'sum by (change) (rate(hydrate_control_plane_assignments_total[{RI}]))', "{{change}}")], unit="ops", w=8,
    desc="assign = a task got a new owner and epoch; update = config or target changed; unassign = taken away.")
d.panel("timeseries", "Workers by type", [('sum by (type) (hydrate_control_plane_workers{type=~"$type"})', "{{type}}")], w=8)
d.panel("timeseries", "Leadership per replica", [("max by (instance) (hydrate_control_plane_is_leader)", "{{instance}}")], w=12)
d.panel("timeseries", "Leader changes (1h)", [("sum by (instance) (increase(hydrate_control_plane_leader_changes_total[1h]))", "{{instance}}")], w=12)
d.row("gRPC API")
d.panel("timeseries", "Calls by method", [
    (f'sum by (method) (rate(hydrate_grpc_server_handled_total{{job="control-plane"}}[{RI}]))', "{{method}}")], unit="reqps")
d.panel("timeseries", "Failed calls by code", [
    (f'sum by (code) (rate(hydrate_grpc_server_handled_total{{job="control-plane",code!="OK"}}[{RI}])) '
     f'or sum by (code) (rate(hydrate_grpc_server_handled_total{{job="control-plane"}}[{RI}])) * 0', "{{code}}")], unit="reqps")
d.panel("timeseries", "Unary call latency p95", [
    (f'histogram_quantile(0.95, sum by (le, method) (rate(hydrate_grpc_server_handling_seconds_bucket{{job="control-plane",method!~".*/Watch.*"}}[{RI}])))', "{{method}}")],
    unit="s")
d.panel("timeseries", "Errors by stage", [
    (f'sum by (stage) (rate(hydrate_control_plane_errors_total[{RI}]))', "{{stage}}")], unit="ops")
d.dump(f"{OUT}/control-plane.json")

# ---------------- sources
C = 'connector=~"$connector"'
d = Dash("hydrate-sources", "Hydrate / Sources",
         "The source service: rows read from PostgreSQL, records produced to Kafka, poll and produce latency, errors, task states and leases.",
         ["source"], [("connector", "label_values(hydrate_source_received_records_total, connector)", "Connector")])
d.row("Throughput")
d.panel("timeseries", "Rows read / s", [(f'sum by (connector) (rate(hydrate_source_received_records_total{{{C}}}[{RI}]))', "{{connector}}")], unit="rps", w=6)
d.panel("timeseries", "Bytes read / s", [(f'sum by (connector) (rate(hydrate_source_received_bytes_total{{{C}}}[{RI}]))', "{{connector}}")], unit="Bps", w=6)
d.panel("timeseries", "Records produced / s", [(f'sum by (connector, topic) (rate(hydrate_source_sent_records_total{{{C}}}[{RI}]))', "{{topic}}")], unit="rps", w=6)
d.panel("timeseries", "Bytes produced / s", [(f'sum by (connector, topic) (rate(hydrate_source_sent_bytes_total{{{C}}}[{RI}]))', "{{topic}}")], unit="Bps", w=6)
d.row("Polls and produce")
d.panel("timeseries", "Poll duration", [
    (f'histogram_quantile(0.5, sum by (le, connector) (rate(hydrate_source_poll_duration_seconds_bucket{{{C}}}[{RI}])))', "p50 {{connector}}"),
    (f'histogram_quantile(0.95, sum by (le, connector) (rate(hydrate_source_poll_duration_seconds_bucket{{{C}}}[{RI}])))', "p95 {{connector}}")], unit="s", w=8)
d.panel("timeseries", "Rows per poll (mean)", [
    (f'sum by (connector) (rate(hydrate_source_poll_rows_sum{{{C}}}[{RI}])) / sum by (connector) (rate(hydrate_source_poll_rows_count{{{C}}}[{RI}]))', "{{connector}}")], w=8)
d.panel("timeseries", "Produce latency (send to commit)", [
    (f'histogram_quantile(0.5, sum by (le, connector) (rate(hydrate_source_produce_duration_seconds_bucket{{{C}}}[{RI}])))', "p50 {{connector}}"),
    (f'histogram_quantile(0.99, sum by (le, connector) (rate(hydrate_source_produce_duration_seconds_bucket{{{C}}}[{RI}])))', "p99 {{connector}}")], unit="s", w=8)
d.row("Health")
d.panel("timeseries", "Errors by stage", [(f'sum by (connector, stage) (rate(hydrate_source_errors_total{{{C}}}[{RI}]))', "{{connector}} {{stage}}")], unit="ops", w=8)
d.panel("timeseries", "Source tasks by state", [('sum by (state) (hydrate_control_plane_tasks{type="source"})', "{{state}}")], stack=True, w=8)
d.panel("timeseries", "Worker leases", [
    ('sum by (instance) (hydrate_worker_assigned_tasks{kind="source"})', "tasks on {{instance}}"),
    ('sum by (instance) (increase(hydrate_worker_lease_losses_total{kind="source"}[1h]))', "leases lost (1h) {{instance}}")], w=8)
d.dump(f"{OUT}/sources.json")

# ---------------- sinks
d = Dash("hydrate-sinks", "Hydrate / Sinks",
         "The sink service: records consumed from Kafka, objects written to S3, lag, end-to-end freshness, buffers, errors, task states and leases.",
         ["sink"], [("connector", "label_values(hydrate_sink_received_records_total, connector)", "Connector")])
d.row("Freshness and lag")
d.panel("timeseries", "End-to-end freshness (commit to visible in S3)", [
    (f'histogram_quantile(0.5, sum by (le, connector) (rate(hydrate_sink_freshness_seconds_bucket{{{C}}}[{RI}])))', "p50 {{connector}}"),
    (f'histogram_quantile(0.95, sum by (le, connector) (rate(hydrate_sink_freshness_seconds_bucket{{{C}}}[{RI}])))', "p95 {{connector}}"),
    (f'histogram_quantile(0.99, sum by (le, connector) (rate(hydrate_sink_freshness_seconds_bucket{{{C}}}[{RI}])))', "p99 {{connector}}")],
    unit="s", desc="From a row's commit (or last_update) to its object being visible in S3.")
d.panel("timeseries", "Consumer lag", [(f'sum by (connector) (hydrate_sink_consumer_lag_records{{{C}}})', "{{connector}}")],
        desc="High watermark minus the task's position, summed over partitions.")
d.panel("table", "Lag by partition", [(f'max by (connector, topic, partition) (hydrate_sink_consumer_lag_records{{{C}}})', "")], w=24, h=7)
d.row("Throughput")
d.panel("timeseries", "Records consumed / s", [(f'sum by (connector) (rate(hydrate_sink_received_records_total{{{C}}}[{RI}]))', "{{connector}}")], unit="rps", w=6)
d.panel("timeseries", "Bytes consumed / s", [(f'sum by (connector) (rate(hydrate_sink_received_bytes_total{{{C}}}[{RI}]))', "{{connector}}")], unit="Bps", w=6)
d.panel("timeseries", "Records written / s", [(f'sum by (connector) (rate(hydrate_sink_sent_records_total{{{C}}}[{RI}]))', "{{connector}}")], unit="rps", w=6)
d.panel("timeseries", "Bytes written / s", [(f'sum by (connector) (rate(hydrate_sink_sent_bytes_total{{{C}}}[{RI}]))', "{{connector}}")], unit="Bps", w=6)
d.row("Objects")
d.panel("timeseries", "Objects written / min", [(f'sum by (connector) (rate(hydrate_sink_files_written_total{{{C}}}[{RI}])) * 60', "{{connector}}")], w=6)
d.panel("timeseries", "Upload latency", [
    (f'histogram_quantile(0.5, sum by (le, connector) (rate(hydrate_sink_upload_duration_seconds_bucket{{{C}}}[{RI}])))', "p50 {{connector}}"),
    (f'histogram_quantile(0.95, sum by (le, connector) (rate(hydrate_sink_upload_duration_seconds_bucket{{{C}}}[{RI}])))', "p95 {{connector}}")], unit="s", w=6)
d.panel("timeseries", "Open files", [(f'sum by (connector) (hydrate_sink_open_files{{{C}}})', "{{connector}}")], w=6)
d.panel("timeseries", "Buffered bytes", [(f'sum by (connector) (hydrate_sink_buffered_bytes{{{C}}})', "{{connector}}")], unit="bytes", w=6)
d.row("Health")
d.panel("timeseries", "Errors by stage", [(f'sum by (connector, stage) (rate(hydrate_sink_errors_total{{{C}}}[{RI}]))', "{{connector}} {{stage}}")], unit="ops", w=8)
d.panel("timeseries", "Sink tasks by state", [('sum by (state) (hydrate_control_plane_tasks{type="sink"})', "{{state}}")], stack=True, w=8)
d.panel("timeseries", "Worker leases", [
    ('sum by (instance) (hydrate_worker_assigned_tasks{kind="sink"})', "tasks on {{instance}}"),
    ('sum by (instance) (increase(hydrate_worker_lease_losses_total{kind="sink"}[1h]))', "leases lost (1h) {{instance}}")], w=8)
d.panel("timeseries", "Memory budget: flushes and Parquet rows set aside / min", [
    (f'sum by (connector) (rate(hydrate_sink_memory_flushes_total{{{C}}}[{RI}])) * 60', "flushes {{connector}}"),
    (f'sum by (connector) (rate(hydrate_sink_spilled_rows_total{{{C}}}[{RI}])) * 60', "rows set aside {{connector}}")], w=12,
    desc="Open files flushed to stay within HYDRATE_SINK_MEMORY_BYTES, and the Parquet rows those flushes set aside on the spool. "
         "A steady rate means the budget is tight for the files open at once: raise it, or write fewer directories at once.")
d.dump(f"{OUT}/sinks.json")
