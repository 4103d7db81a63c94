"""Hydrate's benchmarks: run by scripts/bench (which builds the release
binaries first). Prints a table and writes bench/results/latest.json."""

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

import data
import peers
from phases import Runs
from report import Report
from stack import Stack, load_env, log

PARTS = ["snapshot", "sink", "freshness", "e2e", "debezium", "dlt"]
GROUPS = {"peers": ["debezium", "dlt"], "all": PARTS}


def parse_parts(text):
    parts = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        for p in GROUPS.get(item, [item]):
            if p not in PARTS:
                raise argparse.ArgumentTypeError(f"unknown part {p} (parts: {', '.join(PARTS)}, peers, all)")
            parts.append(p)
    return parts


def cpu_idle(seconds):
    """The share of CPU time idle (with iowait) over the next `seconds`."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def settle(report, idle=0.8, longest=180):
    """Waits until what the last part left behind is done: dirty pages
    written (the produce limit leaves gigabytes), Kafka's delayed deletion
    of the last part's topics, S3Proxy's deletes. Each part is measured on
    a machine at rest, as the first one is."""
    started = time.time()
    os.sync()
    while time.time() - started < longest and cpu_idle(2) < idle:
        pass
    waited = time.time() - started
    report.info.setdefault("settled_s", []).append(round(waited, 1))
    log(f"settled in {waited:.0f} s (CPU at least {idle:.0%} idle, dirty pages written)")


# Bytes a snapshot record takes in Kafka (Kafka Connect's JSON with its
# schema in every record, and the log's own overhead).
KAFKA_BYTES_PER_ROW = 1100


def check_disk(root, rows, parts):
    """The local broker holds the snapshot's topic, and for up to a minute
    (Kafka deletes a dropped topic's files after file.delete.delay.ms) the
    raw producer's copy beside it: refuse to start without room for both,
    rather than fill the disk halfway and take the broker down."""
    if "snapshot" not in parts:
        return
    need = 2 * rows * KAFKA_BYTES_PER_ROW + (2 << 30)
    free = shutil.disk_usage(root).free
    if free < need:
        sys.exit(f"scripts/bench: {rows:,} rows need about {need / 2**30:.0f} GiB free for Kafka's topics "
                 f"(two copies of the snapshot's topic may exist at once); {root} has {free / 2**30:.0f} GiB. "
                 "Free space (scripts/down --wipe drops the local stack's data), or use --rows.")


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of the generated table (default 10M)")
    ap.add_argument("--only", type=parse_parts, help=f"comma-separated parts: {', '.join(PARTS)}, peers")
    ap.add_argument("--skip", type=parse_parts, default=[], help="parts to leave out")
    ap.add_argument("--freshness-seconds", type=int, default=60)
    ap.add_argument("--peer-rows", type=int, default=1_000_000,
                    help="rows the peers are timed over when the table is larger (default 1M)")
    ap.add_argument("--out", default=None, help="JSON report path (default bench/results/latest.json)")
    ap.add_argument("--env-file", required=True)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--note", default="", help="a note stored in the JSON report")
    ap.add_argument("--merge", action="store_true",
                    help="keep the figures of parts not run now from the existing report")
    args = ap.parse_args()

    rows = max(1000, args.rows - args.rows % 1000)
    parts = [p for p in (args.only or PARTS) if p not in args.skip]
    check_disk(args.root, rows, parts)
    run_id = time.strftime("%m%d%H%M%S")
    work = Path(args.cache) / "bench-runs" / run_id
    report = Report({"rows": rows, "parts": parts, "freshness_seconds": args.freshness_seconds,
                     "peer_rows": args.peer_rows, "run": run_id})
    stack = Stack(load_env(args.env_file), args.bin_dir, work, run_id,
                  run_dir=Path(args.env_file).resolve().parent / "run")
    log(f"run {run_id}: parts {', '.join(parts)}, {rows:,} rows; logs in {work}")
    failed = []
    try:
        stack.ensure_database()
        stack.ensure_bucket()
        data.ensure_bench_rows(stack, rows)
        stack.start_control_plane()
        runs = Runs(stack, report, rows)
        steps = {
            "snapshot": runs.snapshot,
            "sink": runs.sink,
            "freshness": lambda: runs.freshness(args.freshness_seconds),
            "e2e": runs.end_to_end,
            "debezium": lambda: peers.debezium(stack, report, Path(args.root), Path(args.cache), args.peer_rows),
            "dlt": lambda: peers.dlt(stack, report, Path(args.root), Path(args.cache), args.peer_rows),
        }
        # The produce limit runs once the snapshot's topic has served the
        # sink runs (see Runs.produce_limit).
        if "snapshot" in parts:
            at = parts.index("sink") + 1 if "sink" in parts else parts.index("snapshot") + 1
            parts.insert(at, "produce-limit")
            steps["produce-limit"] = runs.produce_limit
        for i, part in enumerate(parts):
            if part == "produce-limit" and "snapshot" in failed:
                continue
            if i > 0:
                settle(report)
            try:
                steps[part]()
            except Exception as err:  # noqa: BLE001 - report it, go on with the next part
                traceback.print_exc()
                stack.stop_workers()
                failed.append(part)
                report.info.setdefault("failed", {})[part] = str(err)[-2000:]
    finally:
        stack.stop_all()
        if "runs" in locals():
            stack.delete_topics(*runs.topics)
    out = Path(args.out) if args.out else Path(args.root) / "bench" / "results" / "latest.json"
    if args.merge and out.exists():
        report.merge(json.loads(out.read_text()))
    peers.compare(report)
    report.write(out, args.note)
    print()
    print(report.table())
    print()
    log(f"report written to {out}")
    if failed:
        log(f"parts that failed: {', '.join(failed)} (details in the report's info.failed)")
        sys.exit(1)


if __name__ == "__main__":
    main()
