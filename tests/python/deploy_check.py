#!/usr/bin/env python3
"""Checks deploy/ without a cluster: the Helm chart renders (with defaults and
with every option on) into valid Kubernetes objects; the alert rules pass
`promtool check rules` and their unit tests (`promtool test rules`); the
dashboards are what deploy/grafana/generate.py makes; every metric they and
the rules name is in docs/metrics.md (tests/python/promql_check.py without a
Prometheus); the chart's copy of the rules is the same file.

    python tests/python/deploy_check.py

helm is looked up in $HYDRATE_CACHE/bin (scripts/install-deps builds it)
and then on PATH; promtool comes with Debian's prometheus package. The last
line is "N passed, M failed"; exit 1 when anything failed.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/hydrate"
CACHE = pathlib.Path(os.environ.get("HYDRATE_CACHE", pathlib.Path.home() / ".cache/hydrate"))
RESULTS = []


def check(name):
    def wrap(fn):
        try:
            fn()
            RESULTS.append((name, None))
            print(f"ok   {name}")
        except Exception as err:  # noqa: BLE001 - report every failure, go on
            RESULTS.append((name, err))
            print(f"FAIL {name}: {err}")
        return fn
    return wrap


def run(*cmd, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def tool(name, *extra):
    for candidate in [CACHE / "bin" / name, *map(pathlib.Path, extra)]:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise AssertionError(f"{name} not found (run scripts/install-deps)")
    return found


def render(*sets):
    args = [tool("helm"), "template", "t", str(CHART), "--namespace", "data", "--kube-version", "1.30.0"]
    for s in sets:
        args += ["--set", s]
    docs = [d for d in yaml.safe_load_all(run(*args)) if d]
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"), f"incomplete object: {d}"
    return docs


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def env_of(deployment):
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container.get("env", [])}


@check("helm lint")
def _():
    run(tool("helm"), "lint", str(CHART), "--kube-version", "1.30.0")


@check("chart renders with defaults: 3 control-plane replicas, sources, sinks, probes, scrape annotations")
def _():
    docs = render()
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"t-hydrate-control-plane", "t-hydrate-source", "t-hydrate-sink"}, deployments.keys()
    cp = deployments["t-hydrate-control-plane"]
    assert cp["spec"]["replicas"] == 3
    env = env_of(cp)
    assert env["ETCD_ENDPOINTS"]["value"], env
    assert env["HYDRATE_ADMIN_TOKENS"]["valueFrom"]["secretKeyRef"]["name"] == "t-hydrate-tokens"
    for name, d in deployments.items():
        pod = d["spec"]["template"]
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true", name
        container = pod["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert env_of(d)["HYDRATE_METRICS_LISTEN"]["value"] == "0.0.0.0:9464", name
        assert env_of(d)["OTEL_SERVICE_NAME"]["value"].startswith("hydrate-"), name
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(d), "no export unless asked"
    sink = env_of(deployments["t-hydrate-sink"])
    assert sink["HYDRATE_ENDPOINT"]["value"] == "http://t-hydrate-control-plane:50051", sink["HYDRATE_ENDPOINT"]
    assert sink["HYDRATE_WORKER_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "HYDRATE_WORKER_TOKEN"
    config = by_kind(docs, "ConfigMap")["t-hydrate-kafka"]["data"]["kafka.properties"]
    assert "sasl.mechanism=AWS_MSK_IAM" in config and "security.protocol=SASL_SSL" in config, config
    assert not by_kind(docs, "ServiceMonitor") and not by_kind(docs, "HorizontalPodAutoscaler")


@check("chart renders with every option: IRSA, OTLP, ServiceMonitor, PrometheusRule, HPA, TLS")
def _():
    role = "arn:aws:iam::123456789012:role/hydrate-sink"
    docs = render(
        f"sink.serviceAccount.roleArn={role}",
        "otel.endpoint=http://otel-collector:4317",
        "metrics.serviceMonitor.enabled=true",
        "metrics.prometheusRule.enabled=true",
        "sink.autoscaling.enabled=true",
        "controlPlane.tlsSecret=cp-tls",
        "auth.existingSecret=my-tokens",
    )
    sa = by_kind(docs, "ServiceAccount")["t-hydrate-sink"]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
    assert "annotations" not in by_kind(docs, "ServiceAccount")["t-hydrate-source"]["metadata"]
    deployments = by_kind(docs, "Deployment")
    assert "replicas" not in deployments["t-hydrate-sink"]["spec"], "the HPA owns the replicas"
    assert env_of(deployments["t-hydrate-sink"])["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector:4317"
    assert env_of(deployments["t-hydrate-source"])["HYDRATE_ENDPOINT"]["value"].startswith("https://")
    assert env_of(deployments["t-hydrate-control-plane"])["HYDRATE_TLS_CERT"]["value"] == "/etc/hydrate/tls/tls.crt"
    assert not by_kind(docs, "Secret"), "an existing Secret is used, none made"
    rule = by_kind(docs, "PrometheusRule")["t-hydrate"]
    ours = yaml.safe_load((ROOT / "deploy/prometheus/hydrate-alerts.yml").read_text())
    assert rule["spec"] == ours, "the PrometheusRule carries deploy/prometheus/hydrate-alerts.yml as it is"
    monitor = by_kind(docs, "ServiceMonitor")["t-hydrate"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert by_kind(docs, "HorizontalPodAutoscaler")["t-hydrate-sink"]["spec"]["maxReplicas"] == 6


@check("the chart's copy of the alert rules is deploy/prometheus/hydrate-alerts.yml")
def _():
    a = (ROOT / "deploy/prometheus/hydrate-alerts.yml").read_bytes()
    b = (CHART / "files/hydrate-alerts.yml").read_bytes()
    assert a == b, "cp deploy/prometheus/hydrate-alerts.yml deploy/helm/hydrate/files/"


@check("promtool check rules")
def _():
    run(tool("promtool"), "check", "rules", *sorted(map(str, (ROOT / "deploy/prometheus").glob("*.yml"))))


@check("promtool test rules (alerts fire on their inputs)")
def _():
    run(tool("promtool"), "test", "rules", *sorted(map(str, (ROOT / "deploy/prometheus/tests").glob("*.yml"))))


@check("dashboards are generate.py's output")
def _():
    with tempfile.TemporaryDirectory() as out:
        run(sys.executable, str(ROOT / "deploy/grafana/generate.py"), out)
        for made in sorted(pathlib.Path(out).glob("*.json")):
            kept = ROOT / "deploy/grafana" / made.name
            assert kept.exists() and kept.read_text() == made.read_text(), f"regenerate deploy/grafana/{made.name}"


@check("dashboards and rules name only metrics of docs/metrics.md")
def _():
    run(sys.executable, str(ROOT / "tests/python/promql_check.py"))


@check("Dockerfile builds every service binary on the runtime image")
def _():
    text = (ROOT / "deploy/docker/Dockerfile").read_text()
    for binary in ["hydrate-control-plane", "hydrate-source", "hydrate-sink", "hydratectl"]:
        assert binary in text, binary
    assert "protobuf-compiler" in text and "cmake" in text


passed = sum(1 for _, err in RESULTS if err is None)
failed = len(RESULTS) - passed
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
