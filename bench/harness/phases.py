"""Hydrate's own runs: the snapshot into Kafka, Kafka into the lake, the
end-to-end load, and freshness; each next to the raw limits measured in the
same run."""

import time

from data import reset_fresh_rows, table_stats
from stack import BUCKET, log, rss_peak_mib

WAIT_TIMEOUT = "7200"


def flush_size_for(rows):
    """The largest round flush.size that divides `rows` into at least four
    objects, so no tail waits for a scheduled rotation."""
    for size in (500_000, 250_000, 200_000, 100_000, 50_000, 20_000, 10_000, 5_000, 1_000):
        if rows % size == 0 and rows // size >= 4:
            return size
    return rows


def whole_cpu_figure(report, part, worker, run, tool, raw, tool_us_per_row):
    """The CPU a row costs the worker and the stack's services together
    (Kafka, the object store, PostgreSQL), against the raw tool and the same
    services during its run: on a saturated machine, that sum is what a rate
    is divided into. The note gives each share."""
    ours, theirs = run.get("service_cpu_us_per_row"), raw.get("service_cpu_us_per_row")
    if ours is None or theirs is None:
        return

    def shares(first, value, services):
        parts = [f"{first} {value:.2f}"] + [f"{k} {v:.2f}" for k, v in sorted(services.items())]
        return " + ".join(parts)

    ours_total = run["cpu_us_per_row"] + sum(ours.values())
    theirs_total = tool_us_per_row + sum(theirs.values())
    report.figure(part, f"CPU per row, {worker} and the stack's services", ours_total, "us",
                  f"{tool} and the stack's services", theirs_total,
                  note=f"{shares(worker, run['cpu_us_per_row'], ours)} against "
                       f"{shares(tool, tool_us_per_row, theirs)} us")


def settle_worker(stack, proc):
    # The worker registers with the control plane before work is leased.
    time.sleep(3)
    if proc.poll() is not None:
        raise RuntimeError(f"{proc.args[0]} exited at start; see {stack.work}")


class Runs:
    def __init__(self, stack, report, rows):
        self.stack = stack
        self.report = report
        self.rows = rows
        self.run = stack.run
        self.topic = f"bench.{self.run}.bench_rows"
        self.offsets_topic = f"bench.{self.run}.offsets"
        self.topics = [self.offsets_topic]
        self.max_ms = None

    def name(self, what):
        return f"bench_{self.run}_{what}"

    def wait_source(self, connector, max_ms):
        return self.stack.tool("wait-source-offset", "--offsets-topic", self.offsets_topic,
                               "--connector", connector, "--timestamp-ms", str(max_ms),
                               "--timeout-s", WAIT_TIMEOUT)

    def wait_group(self, connector, topic):
        return self.stack.tool("wait-group", "--group", f"connect-{connector}", "--topic", topic,
                               "--timeout-s", WAIT_TIMEOUT)

    # --- 1. snapshot into Kafka -------------------------------------------

    def snapshot(self):
        s, r = self.stack, self.report
        count, self.max_ms, table_bytes = table_stats(s, "bench_rows")
        r.info["table"] = {"rows": count, "heap_bytes": table_bytes, "bytes_per_row": table_bytes / count}

        log("snapshot: PostgreSQL COPY (SELECT * FROM bench_rows) TO STDOUT")
        copy = s.tool("copy-out", "--relation", "(SELECT * FROM public.bench_rows)")
        r.raw["pg_copy"] = copy

        log("snapshot: Hydrate source, timestamp mode, into a fresh topic")
        proc = s.start_worker("source", "snapshot")
        settle_worker(s, proc)
        name = self.name("snapshot")
        self.topics.append(self.topic)
        started, cpu = time.time(), s.cpu_window(proc.pid)
        s.apply(name, s.source_config("bench_rows", f"bench.{self.run}."))
        done = self.wait_source(name, self.max_ms)
        seconds = done["done_at"] - started
        rss, used = rss_peak_mib(proc.pid), cpu.stop(count)
        s.delete(name)
        s.stop("source-snapshot")
        hydrate = {"rows": count, "seconds": seconds, "rows_per_s": count / seconds, "rss_peak_mib": rss, **used}
        r.raw["hydrate_snapshot"] = hydrate

        self.sample = s.work / "sample-values.jsonl"
        stats = s.tool("topic-stats", "--topic", self.topic, "--save-sample", str(self.sample))
        r.info["record_value_bytes_avg"] = stats["avg_value_bytes"]

    def produce_limit(self):
        """The rdkafka limit of step 1, run after the sink runs have read the
        snapshot's topic and it is deleted: two copies of a 10M-record topic
        would not fit on a small disk."""
        s, r = self.stack, self.report
        self.drop_topic(self.topic)
        count = r.raw["hydrate_snapshot"]["rows"]
        log(f"snapshot: raw rdkafka producer, {count:,} records of ~{r.info['record_value_bytes_avg']:.0f} bytes")
        raw_topic = f"bench.{self.run}.raw_produce"
        self.topics.append(raw_topic)
        window = s.cpu_window()
        produce = s.tool("produce", "--topic", raw_topic, "--count", str(count), "--sample-file", str(self.sample),
                         *s.producer_property_args())
        produce.update(window.stop(count))
        self.drop_topic(raw_topic)
        r.raw["rdkafka_produce"] = produce

        copy, rate = r.raw["pg_copy"], r.raw["hydrate_snapshot"]["rows_per_s"]
        r.figure("snapshot", "Hydrate snapshot into Kafka", rate, "rows/s",
                 "PostgreSQL COPY TO STDOUT", copy["rows_per_s"])
        r.figure("snapshot", "Hydrate snapshot into Kafka", rate, "rows/s",
                 "rdkafka transactional produce, same records", produce["rows_per_s"])
        lower = min(copy["rows_per_s"], produce["rows_per_s"])
        r.figure("snapshot", "Hydrate snapshot vs the lower raw limit", rate, "rows/s",
                 "min(COPY, rdkafka produce)", lower, target=(">=", 0.70))
        r.figure("snapshot", "hydrate-source peak RSS (VmHWM)", r.raw["hydrate_snapshot"]["rss_peak_mib"], "MiB")
        # Throughput on a shared two-core machine drifts between runs; the CPU
        # a row costs each process drifts much less. The broker's is in neither.
        hydrate = r.raw["hydrate_snapshot"]
        if "cpu_us_per_row" in hydrate and "cpu_s" in produce:
            r.figure("snapshot", "hydrate-source CPU per row", hydrate["cpu_us_per_row"], "us",
                     "raw producer CPU per record", produce["cpu_s"] * 1e6 / count,
                     note=f"machine {hydrate['machine_busy']:.0%} busy during the snapshot")
            whole_cpu_figure(r, "snapshot", "source", hydrate, "raw producer", produce, produce["cpu_s"] * 1e6 / count)

    def drop_topic(self, topic):
        if topic in self.topics:
            self.stack.delete_topics(topic)
            self.topics.remove(topic)

    # --- 2. Kafka into the lake -------------------------------------------

    def sink(self):
        s, r = self.stack, self.report
        if self.topic not in self.topics:
            raise RuntimeError("the sink runs read the snapshot's topic: run the snapshot part too")
        log("sink: raw rdkafka consumer, read_committed")
        window = s.cpu_window()
        consume = s.tool("consume", "--topic", self.topic)
        consume.update(window.stop(consume["rows"]))
        r.raw["rdkafka_consume"] = consume
        encode_rows = min(self.rows, 2_000_000)
        log(f"sink: raw Arrow -> Parquet (snappy) encoding of {encode_rows:,} records in memory")
        encode = s.tool("encode-parquet", "--topic", self.topic, "--rows", str(encode_rows))
        r.raw["arrow_parquet_encode"] = encode
        flush = flush_size_for(consume["rows"])

        runs = {}
        for fmt in ("json", "parquet"):
            runs[fmt] = self.sink_run(fmt, s.sink_config(self.topic, f"{self.run}/{fmt}", fmt,
                                                         **{"flush.size": flush}))
        fields = self.sink_run("fields1000", s.sink_config(
            self.topic, f"{self.run}/fields1000", "parquet", **{
                # flush.size counts the records of the Kafka partition, all
                # field partitions together (as Kafka Connect): the whole topic
                # keeps all 1,000 files open until the last record.
                "flush.size": consume["rows"],
                "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
                "partition.field.name": "bucket",
            }))

        lower = min(consume["rows_per_s"], encode["encode_rows_per_s"])
        for fmt, run in runs.items():
            rate = run["rows_per_s"]
            label = f"Hydrate sink {fmt.upper()}"
            r.figure("sink", label, rate, "rows/s", "rdkafka consume (read_committed)", consume["rows_per_s"])
            r.figure("sink", f"{label} input bytes", run["input_bytes_per_s"] / 2**20, "MiB/s",
                     "rdkafka consume", consume["bytes_per_s"] / 2**20)
            if fmt == "parquet":
                r.figure("sink", label, rate, "rows/s", "Arrow -> Parquet snappy encode only",
                         encode["encode_rows_per_s"])
                r.figure("sink", f"{label} vs the lower raw limit", rate, "rows/s",
                         "min(consume, encode)", lower, target=(">=", 0.70))
            else:
                r.figure("sink", f"{label} vs the consume limit", rate, "rows/s",
                         "rdkafka consume", consume["rows_per_s"], target=(">=", 0.70))
            r.figure("sink", f"{label} lake bytes written", run["output_bytes_per_s"] / 2**20, "MiB/s")
            r.figure("sink", f"hydrate-sink peak RSS ({fmt})", run["rss_peak_mib"], "MiB")
            if "cpu_us_per_row" in run and "cpu_s" in consume:
                r.figure("sink", f"hydrate-sink CPU per record ({fmt})", run["cpu_us_per_row"], "us",
                         "raw consumer CPU per record", consume["cpu_s"] * 1e6 / consume["rows"],
                         note=f"machine {run['machine_busy']:.0%} busy during the run")
                whole_cpu_figure(r, "sink", f"sink {fmt}", run, "raw consumer", consume,
                                 consume["cpu_s"] * 1e6 / consume["rows"])
        r.figure("sink", "Hydrate sink Parquet, 1000 field partitions open", fields["rows_per_s"], "rows/s",
                 "rdkafka consume", consume["rows_per_s"])
        r.figure("sink", "hydrate-sink peak RSS, 1000 partitions", fields["rss_peak_mib"], "MiB",
                 "target", 256, target=("<=", 1.0))

    def sink_run(self, tag, config):
        s = self.stack
        log(f"sink: Hydrate sink {tag} (flush.size {config['flush.size']})")
        proc = s.start_worker("sink", tag)
        settle_worker(s, proc)
        name = self.name(f"sink_{tag}")
        consume = self.report.raw["rdkafka_consume"]
        started, cpu = time.time(), s.cpu_window(proc.pid)
        s.apply(name, config)
        done = self.wait_group(name, self.topic)
        seconds = done["done_at"] - started
        rss, used = rss_peak_mib(proc.pid), cpu.stop(consume["rows"])
        s.delete(name)
        s.stop(f"sink-{tag}")
        objects = s.lake_objects(config["topics.dir"] + "/")
        out_bytes = sum(o["Size"] for o in objects)
        s.delete_prefix(config["topics.dir"] + "/")
        run = {
            "rows": consume["rows"], "seconds": seconds, "rows_per_s": consume["rows"] / seconds,
            "input_bytes_per_s": consume["bytes"] / seconds, "objects": len(objects),
            "output_bytes": out_bytes, "output_bytes_per_s": out_bytes / seconds, "rss_peak_mib": rss,
            "flush_size": config["flush.size"], **used,
        }
        self.report.raw[f"hydrate_sink_{tag}"] = run
        return run

    # --- end to end, for the query-based peer -------------------------------

    def end_to_end(self):
        s, r = self.stack, self.report
        count, max_ms, _ = table_stats(s, "bench_rows")
        topic = f"bench.{self.run}.e2e.bench_rows"
        self.topics.append(topic)
        log("end to end: Hydrate source and Parquet sink together, PostgreSQL -> S3")
        src_proc = s.start_worker("source", "e2e")
        sink_proc = s.start_worker("sink", "e2e")
        settle_worker(s, src_proc)
        src, sink = self.name("e2e_source"), self.name("e2e_sink")
        topics_dir = f"{self.run}/e2e"
        started = time.time()
        s.apply(src, s.source_config("bench_rows", f"bench.{self.run}.e2e."))
        s.apply(sink, s.sink_config(topic, topics_dir, "parquet", **{"flush.size": flush_size_for(count)}))
        self.wait_source(src, max_ms)
        done = self.wait_group(sink, topic)
        seconds = done["done_at"] - started
        run = {"rows": count, "seconds": seconds, "rows_per_s": count / seconds,
               "source_rss_peak_mib": rss_peak_mib(src_proc.pid),
               "sink_rss_peak_mib": rss_peak_mib(sink_proc.pid)}
        s.delete(src)
        s.delete(sink)
        s.stop("source-e2e")
        s.stop("sink-e2e")
        run["objects"] = len(s.lake_objects(topics_dir + "/"))
        s.delete_prefix(topics_dir + "/")
        s.delete_topics(topic)
        r.raw["hydrate_end_to_end"] = run
        r.figure("end to end", "Hydrate PostgreSQL -> Parquet on S3", run["rows_per_s"], "rows/s")

    # --- 3. freshness -------------------------------------------------------

    def freshness(self, seconds):
        s, r = self.stack, self.report
        log("freshness: 1000 updates/s, poll 1 s, rotation 1 s")
        reset_fresh_rows(s)
        _, max_ms, _ = table_stats(s, "fresh_rows")
        topic = f"bench.{self.run}.fresh.fresh_rows"
        self.topics.append(topic)
        src_proc = s.start_worker("source", "fresh")
        sink_proc = s.start_worker("sink", "fresh")
        settle_worker(s, src_proc)
        src, sink = self.name("fresh_source"), self.name("fresh_sink")
        topics_dir = f"{self.run}/fresh"
        s.apply(src, s.source_config("fresh_rows", f"bench.{self.run}.fresh.", **{"poll.interval.ms": 1000}))
        s.apply(sink, s.sink_config(topic, topics_dir, "json", **{
            "flush.size": 1_000_000, "rotate.schedule.interval.ms": 1000}))
        self.wait_source(src, max_ms)
        self.wait_group(sink, topic)
        log(f"freshness: initial rows in the lake; {seconds} s of updates")
        try:
            result = s.tool("freshness", "--table", "public.fresh_rows", "--rows", "10000",
                            "--seconds", str(seconds), "--bucket", BUCKET, "--prefix", topics_dir + "/")
            result["source_rss_peak_mib"] = rss_peak_mib(src_proc.pid)
            result["sink_rss_peak_mib"] = rss_peak_mib(sink_proc.pid)
        finally:
            s.delete(src)
            s.delete(sink)
            s.stop("source-fresh")
            s.stop("sink-fresh")
            s.delete_prefix(topics_dir + "/")
        r.raw["freshness"] = result
        r.figure("freshness", "commit -> listable in S3, p50", result["p50_s"], "s")
        r.figure("freshness", "commit -> listable in S3, p99", result["p99_s"], "s",
                 "poll 1 s + rotation 1 s + 0.5 s", 2.5, target=("<=", 1.0))
        r.figure("freshness", "commit -> listable in S3, max", result["max_s"], "s")
        r.figure("freshness", "rows committed / not seen in the lake",
                 result["rows_committed"], "rows", note=f"{result['rows_missing']} missing")
