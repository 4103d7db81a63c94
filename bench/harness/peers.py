"""The peers, on the same table and the same Kafka and S3: Debezium's
PostgreSQL connector (initial snapshot) on a Kafka Connect standalone worker,
and dlt's sql_database source into its filesystem destination (Parquet on
S3)."""

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

from data import table_stats
from stack import BENCH_DB, BUCKET, free_port, log, rss_peak_mib

JAVA = "/usr/bin/java"


def debezium(stack, report, root, cache, peer_rows):
    subprocess.run([str(root / "bench/peers/install-debezium")], check=True)
    libs = cache / "debezium-connect" / "libs"
    total, _, _ = table_stats(stack, "bench_rows")
    # Debezium's snapshot is one scan at a steady rate: timed over the first
    # `count` records of the same table when the whole would take hours.
    count = min(total, peer_rows)
    run = stack.run
    topic_prefix = f"bench.{run}.dbz"
    topic = f"{topic_prefix}.public.bench_rows"
    slot, publication = f"bench_{run}", f"bench_{run}_pub"
    port = free_port()
    worker = stack.work / "connect-standalone.properties"
    worker.write_text("\n".join([
        f"bootstrap.servers={stack.kafka}",
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=true",
        "value.converter.schemas.enable=true",
        f"offset.storage.file.filename={stack.work}/connect.offsets",
        "offset.flush.interval.ms=10000",
        f"listeners=http://127.0.0.1:{port}",
        "",
    ]))
    admin = urllib.parse.urlsplit(stack.env["PG_ADMIN_URL"])
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": admin.hostname,
        "database.port": str(admin.port or 5432),
        # Logical replication and publication creation need a superuser or a
        # replication role that owns the table; the admin role is both.
        "database.user": admin.username,
        "database.password": urllib.parse.unquote(admin.password or ""),
        "database.dbname": BENCH_DB,
        "topic.prefix": topic_prefix,
        "table.include.list": "public.bench_rows",
        "plugin.name": "pgoutput",
        "slot.name": slot,
        "publication.name": publication,
        "publication.autocreate.mode": "filtered",
        "snapshot.mode": "initial",
    }
    log("debezium: Kafka Connect standalone with Debezium's PostgreSQL connector, initial snapshot")
    proc = stack.start("connect", [
        JAVA, "-Xms256m", "-Xmx2g", "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={root}/scripts/stack/kafka/log4j2.xml",
        "-cp", f"{libs}/*", "org.apache.kafka.connect.cli.ConnectStandalone", str(worker)], {})
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(base + "/connectors", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"Kafka Connect did not start; see {stack.work}/connect.log")
            time.sleep(0.5)
    stack_topics = [topic]
    try:
        request = urllib.request.Request(
            base + "/connectors", data=json.dumps({"name": f"bench_{run}_debezium", "config": config}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        started = time.time()
        urllib.request.urlopen(request, timeout=30).read()
        done = stack.tool("wait-topic", "--topic", topic, "--records", str(count), "--timeout-s", "7200")
        seconds = done["done_at"] - started
        rss = rss_peak_mib(proc.pid)
    finally:
        stack.stop("connect")
        try:
            stack.psql(f"SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots"
                       f" WHERE slot_name = '{slot}'", db_admin=True)
            stack.psql(f"DROP PUBLICATION IF EXISTS {publication}", db_admin=True)
        except RuntimeError as err:
            log(f"warning: could not drop Debezium's slot or publication: {err}")
        stack.delete_topics(*stack_topics)
    result = {"rows": count, "table_rows": total, "seconds": seconds, "rows_per_s": count / seconds,
              "rss_peak_mib": rss, "versions": "Kafka Connect 4.3.1, Debezium 3.6.1.Final"}
    report.raw["debezium_snapshot"] = result
    report.figure("peers", "Debezium snapshot into Kafka", result["rows_per_s"], "rows/s",
                  note=f"timed over the first {count:,} of {total:,} rows" if count < total else None)
    report.figure("peers", "Kafka Connect + Debezium peak RSS (VmHWM)", rss, "MiB")


def dlt(stack, report, root, cache, peer_rows):
    subprocess.run([str(root / "bench/peers/install-dlt")], check=True)
    python = cache / "bench-dlt-venv" / "bin" / "python"
    total, _, _ = table_stats(stack, "bench_rows")
    # dlt loads a whole relation: a view of the table's first rows when the
    # whole would take too long (its rate per row is what is compared).
    count = min(total, peer_rows)
    relation = "bench_rows"
    if count < total:
        relation = "bench_rows_peer"
        stack.psql(f"CREATE OR REPLACE VIEW public.bench_rows_peer AS"
                   f" SELECT * FROM public.bench_rows WHERE id <= {count}")
    prefix = f"{stack.run}/dlt"
    env = stack.base_env()
    env.update({
        "BENCH_PG_URL": stack.app_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        "BENCH_PIPELINES_DIR": str(stack.work / "dlt"),
        "BENCH_PIPELINE": f"bench_{stack.run}",
        "BENCH_TABLE": relation,
        "DESTINATION__FILESYSTEM__BUCKET_URL": f"s3://{BUCKET}/{prefix}",
        "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID": stack.env["AWS_ACCESS_KEY_ID"],
        "DESTINATION__FILESYSTEM__CREDENTIALS__AWS_SECRET_ACCESS_KEY": stack.env["AWS_SECRET_ACCESS_KEY"],
        "DESTINATION__FILESYSTEM__CREDENTIALS__ENDPOINT_URL": stack.env["AWS_ENDPOINT_URL"],
        "DESTINATION__FILESYSTEM__CREDENTIALS__REGION_NAME": stack.env.get("AWS_REGION", "us-east-1"),
        "RUNTIME__LOG_LEVEL": "WARNING",
    })
    log("dlt: sql_database (pyarrow backend, incremental on last_update) -> filesystem on S3 as Parquet")
    logf = open(stack.work / "dlt.log", "ab")
    proc = subprocess.Popen([str(python), str(root / "bench/peers/dlt_load.py")], env=env,
                            stdout=subprocess.PIPE, stderr=logf)
    peak = None
    # VmHWM is read while it runs: the process is gone when it prints.
    while proc.poll() is None:
        peak = rss_peak_mib(proc.pid) or peak
        time.sleep(0.5)
    out = proc.stdout.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"dlt failed; see {stack.work}/dlt.log")
    result = json.loads(out.strip().splitlines()[-1])
    objects = stack.lake_objects(prefix + "/")
    result.update({"rows_expected": count, "table_rows": total, "relation": relation,
                   "rows_per_s": count / result["seconds"], "rss_peak_mib": peak,
                   "objects": len(objects), "output_bytes": sum(o["Size"] for o in objects)})
    stack.delete_prefix(prefix + "/")
    report.raw["dlt_end_to_end"] = result
    report.figure("peers", "dlt PostgreSQL -> Parquet on S3", result["rows_per_s"], "rows/s",
                  note=f"the first {count:,} of {total:,} rows" if count < total else None)
    report.figure("peers", "dlt peak RSS (VmHWM)", peak, "MiB")


def compare(report):
    """The peer ratios, from the raw results (this run's, or merged from the
    last report): figures made earlier for them are replaced."""
    raw = report.raw
    ours = {"Hydrate snapshot vs Debezium snapshot", "Hydrate end to end vs dlt"}
    report.figures = [f for f in report.figures if f["what"] not in ours]
    if "hydrate_snapshot" in raw and "debezium_snapshot" in raw:
        report.figure("peers", "Hydrate snapshot vs Debezium snapshot", raw["hydrate_snapshot"]["rows_per_s"],
                      "rows/s", "Debezium (Kafka Connect) snapshot", raw["debezium_snapshot"]["rows_per_s"],
                      target=(">=", 5.0))
    if "hydrate_end_to_end" in raw and "dlt_end_to_end" in raw:
        report.figure("peers", "Hydrate end to end vs dlt", raw["hydrate_end_to_end"]["rows_per_s"],
                      "rows/s", "dlt sql_database -> filesystem Parquet", raw["dlt_end_to_end"]["rows_per_s"],
                      target=(">=", 1.0))
