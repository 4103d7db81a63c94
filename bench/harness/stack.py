"""The benchmark's own corner of the local stack: a private control plane
(own port, etcd prefix and tokens) with its own source and sink workers, a
database `hydrate_bench`, a bucket `hydrate-bench`, topics `bench.<run>.*`.
Nothing here stops or changes what scripts/up started."""

import json
import os
import resource
import secrets
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

BENCH_DB = "hydrate_bench"
BUCKET = "hydrate-bench"
PSQL = "/usr/lib/postgresql/15/bin/psql"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = v.strip().strip('"').strip("'")
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(url, db):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + db))


def rss_peak_mib(pid):
    """VmHWM: the process's peak resident set since it started."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def proc_stat(path):
    """The fields of a /proc/<pid>/stat after the command name (state, ppid,
    ...: field N of proc(5) is [N - 3]); None once the process is gone."""
    try:
        return Path(path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid):
    """User and system CPU the process (all its threads) has used so far."""
    fields = proc_stat(f"/proc/{pid}/stat")
    return None if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """(busy, total) CPU time of the whole machine so far, in clock ticks."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


def tree_cpu_seconds(pid):
    """CPU of a process and of its children, live (PostgreSQL's backends) and
    exited; None once it is gone."""
    fields = proc_stat(f"/proc/{pid}/stat")
    if fields is None:
        return None
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    for stat in Path("/proc").glob("[0-9]*/stat"):
        child = proc_stat(stat)
        if child is not None and child[1] == str(pid):  # ppid
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# The stack's services whose CPU each run reports beside the worker's or the
# raw tool's: what else the machine spent on each row.
SERVICES = ("kafka", "s3", "postgres")


class CpuWindow:
    """CPU used between start and stop: by one process (if any), by the
    stack's services (`services`: name -> pid), and by the machine."""

    def __init__(self, pid=None, services=None):
        self.pid = pid
        self.services = services or {}
        self.proc0 = cpu_seconds(pid) if pid else None
        self.services0 = {name: tree_cpu_seconds(p) for name, p in self.services.items()}
        self.machine0 = machine_cpu()

    def stop(self, rows):
        """`cpu_s`, `cpu_us_per_row` (the process), `service_cpu_us_per_row`
        (each service) and `machine_busy` (0-1)."""
        proc1, (busy1, total1) = (cpu_seconds(self.pid) if self.pid else None), machine_cpu()
        busy0, total0 = self.machine0
        out = {"machine_busy": (busy1 - busy0) / max(1, total1 - total0)}
        if self.proc0 is not None and proc1 is not None:
            out["cpu_s"] = proc1 - self.proc0
            out["cpu_us_per_row"] = out["cpu_s"] * 1e6 / max(1, rows)
        per_row = {}
        for name, pid in self.services.items():
            before, after = self.services0[name], tree_cpu_seconds(pid)
            if before is not None and after is not None:
                per_row[name] = (after - before) * 1e6 / max(1, rows)
        if per_row:
            out["service_cpu_us_per_row"] = per_row
        return out


class Stack:
    def __init__(self, env, bin_dir, work_dir, run_id, run_dir=None):
        self.env = env
        self.run_dir = Path(run_dir) if run_dir else Path()
        self.bin_dir = Path(bin_dir)
        self.work = Path(work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.run = run_id
        self.kafka = env["KAFKA_BOOTSTRAP_SERVERS"]
        self.admin_url = with_database(env["PG_ADMIN_URL"], BENCH_DB)
        self.app_url = with_database(env["PG_URL"], BENCH_DB)
        parsed = urllib.parse.urlsplit(env["PG_URL"])
        self.pg_host, self.pg_port = parsed.hostname, parsed.port or 5432
        self.pg_user, self.pg_password = parsed.username, urllib.parse.unquote(parsed.password or "")
        self.procs = {}
        self.cp_endpoint = None
        self.admin_token = "bench-admin-" + secrets.token_hex(12)
        self.worker_token = "bench-worker-" + secrets.token_hex(12)
        self.s3 = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env.get("AWS_REGION", "us-east-1"),
            config=BotoConfig(s3={"addressing_style": "path"}),
        )

    # --- processes -------------------------------------------------------

    def base_env(self):
        keep = ("PATH", "HOME", "LANG", "TMPDIR", "HYDRATE_KAFKA_PROPERTIES_FILE", "MIMALLOC_PURGE_DELAY")
        e = {k: os.environ[k] for k in keep if k in os.environ}
        e["KAFKA_BOOTSTRAP_SERVERS"] = self.kafka
        return e

    def start(self, name, argv, extra_env, cwd=None):
        self.stop(name)
        logf = open(self.work / f"{name}.log", "ab")
        env = self.base_env()
        env.update(extra_env)
        proc = subprocess.Popen(argv, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop(self, name, timeout=20):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_workers(self):
        """Everything but the control plane (after a part failed half-way)."""
        for name in list(self.procs):
            if name != "control-plane":
                self.stop(name)

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)

    def start_control_plane(self):
        port = free_port()
        self.cp_endpoint = f"http://127.0.0.1:{port}"
        self.start("control-plane", [str(self.bin_dir / "hydrate-control-plane")], {
            "HYDRATE_LISTEN": f"127.0.0.1:{port}",
            "ETCD_ENDPOINTS": self.env["ETCD_ENDPOINTS"],
            "HYDRATE_ETCD_PREFIX": f"/hydrate-bench/{self.run}/",
            "HYDRATE_ADMIN_TOKENS": self.admin_token,
            "HYDRATE_VIEWER_TOKENS": "bench-viewer-" + secrets.token_hex(12),
            "HYDRATE_WORKER_TOKENS": self.worker_token,
            "HYDRATE_LEASE_TTL_SECONDS": "10",
            "HYDRATE_REPLICA_ID": f"bench-{self.run}-cp",
            "RUST_LOG": "info",
        })
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return
            except OSError:
                if self.procs["control-plane"].poll() is not None:
                    raise RuntimeError(f"control plane exited; see {self.work}/control-plane.log")
                time.sleep(0.2)
        raise RuntimeError("control plane did not listen")

    def start_worker(self, kind, tag, extra=None):
        """A fresh hydrate-source or hydrate-sink (fresh, so VmHWM is this run's)."""
        name = f"{kind}-{tag}"
        env = {
            "HYDRATE_ENDPOINT": self.cp_endpoint,
            "HYDRATE_WORKER_TOKEN": self.worker_token,
            "HYDRATE_WORKER_ID": f"bench-{self.run}-{name}",
            "RUST_LOG": "info",
        }
        if kind == "sink":
            spool = self.work / f"spool-{tag}"
            spool.mkdir(exist_ok=True)
            env["HYDRATE_SPOOL_DIR"] = str(spool)
            for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
                env[k] = self.env[k]
        env.update(extra or {})
        return self.start(name, [str(self.bin_dir / f"hydrate-{kind}")], env)

    # --- control plane ---------------------------------------------------

    def ctl(self, *args, check=True):
        env = self.base_env()
        env.update({"HYDRATE_ENDPOINT": self.cp_endpoint, "HYDRATE_TOKEN": self.admin_token})
        out = subprocess.run([str(self.bin_dir / "hydratectl"), *args], env=env,
                             capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"hydratectl {args[0]}: {out.stderr.strip()}")
        return out.stdout

    def apply(self, name, config):
        path = self.work / f"{name}.json"
        path.write_text(json.dumps(config, indent=2))
        self.ctl("apply", "-f", str(path), "--name", name)

    def delete(self, name):
        self.ctl("delete", name, check=False)

    def status(self, name):
        return self.ctl("-o", "json", "status", name, check=False)

    def source_config(self, table, topic_prefix, **extra):
        config = {
            "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
            "connection.url": f"jdbc:postgresql://{self.pg_host}:{self.pg_port}/{BENCH_DB}",
            "connection.user": self.pg_user,
            "connection.password": self.pg_password,
            "mode": "timestamp",
            "timestamp.column.name": "last_update",
            "schema.pattern": "public",
            "table.whitelist": table,
            "topic.prefix": topic_prefix,
            "offsets.storage.topic": f"bench.{self.run}.offsets",
            "tasks.max": 1,
        }
        config.update(extra)
        return config

    def sink_config(self, topic, topics_dir, fmt, **extra):
        config = {
            "connector.class": "io.confluent.connect.s3.S3SinkConnector",
            "tasks.max": 1,
            "topics": topic,
            "s3.bucket.name": BUCKET,
            "s3.region": self.env.get("AWS_REGION", "us-east-1"),
            "topics.dir": topics_dir,
            "storage.class": "io.confluent.connect.s3.storage.S3Storage",
            "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
            "schema.compatibility": "NONE",
            "timezone": "UTC",
        }
        if fmt == "parquet":
            config["format.class"] = "io.confluent.connect.s3.format.parquet.ParquetFormat"
            config["parquet.codec"] = "snappy"
        else:
            config["format.class"] = "io.confluent.connect.s3.format.json.JsonFormat"
        config.update(extra)
        return config

    # --- the raw-limit tool ----------------------------------------------

    def service_pids(self):
        """The pids of the stack's services (SERVICES), from the run
        directory beside the stack's env file."""
        pids = {}
        for name in SERVICES:
            try:
                pids[name] = int((self.run_dir / f"{name}.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return pids

    def cpu_window(self, pid=None):
        """A CpuWindow over `pid` and the stack's services."""
        return CpuWindow(pid, self.service_pids())

    def tool(self, *args, timeout=None):
        env = self.base_env()
        env["BENCH_PG_URL"] = self.app_url
        for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
            env[k] = self.env[k]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([str(self.bin_dir / "hydrate-bench"), *args], env=env,
                             capture_output=True, text=True, timeout=timeout)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            raise RuntimeError(f"hydrate-bench {args[0]} failed: {out.stderr.strip()[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if isinstance(result, dict):
            # The tool's own CPU (its whole run, setup included).
            result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return result

    def producer_property_args(self):
        """`--property` arguments for the raw producer: the `producer.*` and
        common settings of HYDRATE_KAFKA_PROPERTIES_FILE, which the workers
        get too, so the limit is measured with the same client settings."""
        path = os.environ.get("HYDRATE_KAFKA_PROPERTIES_FILE")
        if not path:
            return []
        args = []
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if not line or line[0] in "#!" or "=" not in line:
                continue
            key, value = (part.strip() for part in line.split("=", 1))
            if key.startswith(("consumer.", "admin.")) or key == "bootstrap.servers":
                continue
            args += ["--property", f"{key.removeprefix('producer.')}={value}"]
        return args

    def delete_topics(self, *topics):
        try:
            self.tool("delete-topics", *topics)
        except RuntimeError as err:
            log(f"warning: {err}")

    # --- PostgreSQL ------------------------------------------------------

    def psql(self, sql, url=None, db_admin=False):
        url = url or (self.admin_url if db_admin else self.app_url)
        out = subprocess.run([PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql: {out.stderr.strip()}")
        return out.stdout.strip()

    def ensure_database(self):
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{BENCH_DB}'",
                           url=self.env["PG_ADMIN_URL"])
        if not exists:
            log(f"creating database {BENCH_DB}")
            self.psql(f"CREATE DATABASE {BENCH_DB} OWNER {self.pg_user}", url=self.env["PG_ADMIN_URL"])

    # --- S3 --------------------------------------------------------------

    def ensure_bucket(self):
        try:
            self.s3.head_bucket(Bucket=BUCKET)
        except Exception:  # noqa: BLE001 - any miss means: create it
            self.s3.create_bucket(Bucket=BUCKET)

    def lake_objects(self, prefix):
        objects = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            objects.extend(page.get("Contents", []))
        return [o for o in objects if "/_hydrate/" not in o["Key"]]

    def delete_prefix(self, prefix):
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            keys.extend({"Key": o["Key"]} for o in page.get("Contents", []))
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
