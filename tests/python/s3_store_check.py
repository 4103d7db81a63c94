#!/usr/bin/env python3
"""Check that the local S3 store does what Hydrate relies on.

Reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
and S3_BUCKET (as printed by `scripts/stack/s3.sh env`) and checks, against
the running store:

  1. SigV4 signatures are verified (wrong secret or no signature -> 403)
  2. multipart upload: create / upload part / complete, and abort
  3. ListObjectsV2 with prefix and delimiter
  4. conditional writes: If-None-Match: * on PutObject and on
     CompleteMultipartUpload to an existing key -> 412, and of several
     concurrent create-once puts exactly one wins
  5. pyarrow S3FileSystem writes and reads a Hive-partitioned Parquet dataset
  6. DuckDB httpfs reads that dataset (read_parquet, hive_partitioning) and
     JSON (read_json_auto) with path-style URLs

Prints one line per check (`ok` or `FAIL` with the reason), runs them all,
and exits non-zero when any failed. Everything
is written under a fresh `_s3_store_check/<random>/` prefix of the bucket and
deleted at the end.

Run with the project venv:
    eval "$(scripts/stack/s3.sh env | sed 's/^/export /')"
    ~/.cache/hydrate/venv/bin/python tests/python/s3_store_check.py
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import uuid
from pathlib import Path
from urllib.parse import urlparse

REQUIRED_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "S3_BUCKET",
)


class CheckFailed(Exception):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def error_status(exc: Exception) -> tuple[int | None, str]:
    """HTTP status and S3 error code of a botocore ClientError."""
    resp = getattr(exc, "response", None) or {}
    status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = resp.get("Error", {}).get("Code", "")
    return status, code


class Checker:
    def __init__(self) -> None:
        missing = [k for k in REQUIRED_ENV if not os.environ.get(k)]
        if missing:
            raise CheckFailed(
                "missing environment: " + ", ".join(missing)
                + " (eval the output of `scripts/stack/s3.sh env`)"
            )
        self.endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
        self.access_key = os.environ["AWS_ACCESS_KEY_ID"]
        self.secret_key = os.environ["AWS_SECRET_ACCESS_KEY"]
        self.region = os.environ["AWS_REGION"]
        self.bucket = os.environ["S3_BUCKET"]
        self.prefix = f"_s3_store_check/{uuid.uuid4().hex[:12]}"

        import boto3
        from botocore.config import Config

        self._boto3 = boto3
        self._config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        )
        self.s3 = self.client(self.secret_key)

    def client(self, secret_key: str, **extra):
        return self._boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key,
            region_name=self.region,
            config=extra.pop("config", self._config),
            **extra,
        )

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    # -- 0. reachability ---------------------------------------------------

    def check_bucket(self) -> str:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except Exception as exc:  # noqa: BLE001
            raise CheckFailed(
                f"bucket {self.bucket} not reachable at {self.endpoint} "
                f"with the configured keys: {exc}"
            ) from exc
        return f"bucket {self.bucket} reachable at {self.endpoint}"

    # -- 1. signatures -------------------------------------------------------

    def check_sigv4(self) -> str:
        import urllib.request
        import urllib.error
        from botocore import UNSIGNED
        from botocore.config import Config

        bad = self.client(self.secret_key + "-wrong")
        for what, call in (
            ("ListObjectsV2", lambda: bad.list_objects_v2(Bucket=self.bucket)),
            ("PutObject", lambda: bad.put_object(
                Bucket=self.bucket, Key=self.key("forged"), Body=b"x")),
        ):
            try:
                call()
            except bad.exceptions.ClientError as exc:
                status, code = error_status(exc)
                expect(status == 403,
                       f"{what} signed with a wrong secret answered {status} "
                       f"{code}, want 403")
            else:
                raise CheckFailed(
                    f"{what} signed with a wrong secret key was accepted")

        # The forged put must not have left an object behind.
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.key("forged"))
            raise CheckFailed("a PutObject with a wrong signature stored data")
        except self.s3.exceptions.ClientError as exc:
            status, _ = error_status(exc)
            expect(status == 404, f"HEAD of forged key answered {status}")

        # Unsigned (anonymous) requests are refused too.
        anon = self.client(
            self.secret_key,
            config=self._config.merge(Config(signature_version=UNSIGNED)),
        )
        try:
            anon.list_objects_v2(Bucket=self.bucket)
        except anon.exceptions.ClientError as exc:
            status, code = error_status(exc)
            expect(status == 403,
                   f"anonymous ListObjectsV2 answered {status} {code}, "
                   "want 403")
        else:
            raise CheckFailed("anonymous ListObjectsV2 was accepted")

        # A right signature over a tampered request is refused: sign for one
        # key, send to another.
        url = self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.key("a")},
            ExpiresIn=60,
        )
        tampered = url.replace(self.key("a"), self.key("b"), 1)
        try:
            urllib.request.urlopen(tampered, timeout=10)
        except urllib.error.HTTPError as exc:
            expect(exc.code == 403,
                   f"tampered presigned URL answered {exc.code}, want 403")
        else:
            raise CheckFailed("a tampered presigned URL was accepted")

        # And the right key works.
        self.s3.put_object(Bucket=self.bucket, Key=self.key("signed"),
                           Body=b"ok")
        body = self.s3.get_object(Bucket=self.bucket,
                                  Key=self.key("signed"))["Body"].read()
        expect(body == b"ok", f"read back {body!r}, want b'ok'")
        return ("wrong secret -> 403, unsigned -> 403, tampered presigned "
                "URL -> 403, right key works")

    # -- 2. multipart ------------------------------------------------------

    def check_multipart(self) -> str:
        key = self.key("multipart/big.bin")
        part1 = os.urandom(5 * 1024 * 1024)  # S3's minimum for a non-last part
        part2 = os.urandom(1234)
        up = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        uid = up["UploadId"]
        parts = []
        for n, data in ((1, part1), (2, part2)):
            r = self.s3.upload_part(Bucket=self.bucket, Key=key,
                                    UploadId=uid, PartNumber=n, Body=data)
            parts.append({"PartNumber": n, "ETag": r["ETag"]})
        listed = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=uid)
        expect([p["PartNumber"] for p in listed.get("Parts", [])] == [1, 2],
               f"ListParts shows {listed.get('Parts')}")
        done = self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=uid,
            MultipartUpload={"Parts": parts})
        etag = done.get("ETag", "").strip('"')
        expect(etag.endswith("-2"),
               f"multipart ETag {etag!r} lacks the '-2' part count")
        got = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        expect(got == part1 + part2,
               f"multipart object has {len(got)} bytes, want "
               f"{len(part1) + len(part2)} (or content differs)")

        # Abort: the upload disappears and never becomes an object.
        akey = self.key("multipart/aborted.bin")
        uid2 = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=akey)["UploadId"]
        self.s3.upload_part(Bucket=self.bucket, Key=akey, UploadId=uid2,
                            PartNumber=1, Body=b"abandoned")
        ups = self.s3.list_multipart_uploads(
            Bucket=self.bucket, Prefix=self.prefix).get("Uploads", [])
        expect(any(u["UploadId"] == uid2 for u in ups),
               "ListMultipartUploads does not show the open upload")
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=akey,
                                       UploadId=uid2)
        ups = self.s3.list_multipart_uploads(
            Bucket=self.bucket, Prefix=self.prefix).get("Uploads", [])
        expect(not any(u["UploadId"] == uid2 for u in ups),
               "aborted upload still listed")
        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=akey, UploadId=uid2,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "x"}]})
        except self.s3.exceptions.ClientError as exc:
            status, code = error_status(exc)
            expect(status == 404 and code == "NoSuchUpload",
                   f"completing an aborted upload answered {status} {code}, "
                   "want 404 NoSuchUpload")
        else:
            raise CheckFailed("completing an aborted upload succeeded")
        try:
            self.s3.head_object(Bucket=self.bucket, Key=akey)
            raise CheckFailed("aborted upload left an object behind")
        except self.s3.exceptions.ClientError as exc:
            expect(error_status(exc)[0] == 404,
                   f"HEAD of aborted key answered {error_status(exc)}")
        return (f"5 MiB + 1234 B upload completed (ETag {etag}), "
                "abort removes the upload")

    # -- 3. listing --------------------------------------------------------

    def check_list(self) -> str:
        base = self.key("list")
        keys = [
            "top.json",
            "dt=2024-01-01/a.parquet",
            "dt=2024-01-01/b.parquet",
            "dt=2024-01-02/c.parquet",
            "dt=2024-01-02/deep/d.parquet",
        ]
        for k in keys:
            self.s3.put_object(Bucket=self.bucket, Key=f"{base}/{k}", Body=b"x")

        r = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{base}/",
                                    Delimiter="/")
        contents = [o["Key"] for o in r.get("Contents", [])]
        prefixes = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        expect(contents == [f"{base}/top.json"],
               f"delimiter listing Contents = {contents}")
        expect(prefixes == [f"{base}/dt=2024-01-01/", f"{base}/dt=2024-01-02/"],
               f"delimiter listing CommonPrefixes = {prefixes}")

        r = self.s3.list_objects_v2(Bucket=self.bucket,
                                    Prefix=f"{base}/dt=2024-01-02/",
                                    Delimiter="/")
        contents = [o["Key"] for o in r.get("Contents", [])]
        prefixes = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        expect(contents == [f"{base}/dt=2024-01-02/c.parquet"],
               f"nested listing Contents = {contents}")
        expect(prefixes == [f"{base}/dt=2024-01-02/deep/"],
               f"nested listing CommonPrefixes = {prefixes}")

        # Recursive listing with pagination (MaxKeys + ContinuationToken).
        seen, token = [], None
        while True:
            kw = {"Bucket": self.bucket, "Prefix": f"{base}/", "MaxKeys": 2}
            if token:
                kw["ContinuationToken"] = token
            r = self.s3.list_objects_v2(**kw)
            seen += [o["Key"] for o in r.get("Contents", [])]
            if not r.get("IsTruncated"):
                break
            token = r["NextContinuationToken"]
        want = sorted(f"{base}/{k}" for k in keys)
        expect(seen == want, f"paginated listing = {seen}, want {want}")

        # A prefix that is not on a '/' boundary.
        r = self.s3.list_objects_v2(Bucket=self.bucket,
                                    Prefix=f"{base}/dt=2024-01-0",
                                    Delimiter="/")
        prefixes = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        expect(len(prefixes) == 2, f"partial-prefix listing = {prefixes}")

        # HEAD on a prefix that is no object: 404, not an error (pyarrow's
        # get_file_info and dataset discovery depend on it).
        for k in (f"{base}/dt=2024-01-01", f"{base}/dt=2024-01-01/"):
            try:
                self.s3.head_object(Bucket=self.bucket, Key=k)
                raise CheckFailed(f"HEAD {k} found an object")
            except self.s3.exceptions.ClientError as exc:
                status, code = error_status(exc)
                expect(status == 404, f"HEAD on prefix {k} answered {status} "
                       f"{code}, want 404")
        return ("prefix + delimiter, nested prefixes, pagination, "
                "HEAD on a prefix -> 404")

    # -- 4. conditional writes ---------------------------------------------

    def check_if_none_match(self) -> str:
        key = self.key("cond/once.txt")
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"first",
                           IfNoneMatch="*")
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"second",
                               IfNoneMatch="*")
        except self.s3.exceptions.ClientError as exc:
            status, code = error_status(exc)
            expect(status == 412,
                   f"PutObject If-None-Match: * on an existing key answered "
                   f"{status} {code}, want 412")
        else:
            raise CheckFailed(
                "PutObject If-None-Match: * overwrote an existing key")
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        expect(body == b"first", f"object changed to {body!r}")

        # CompleteMultipartUpload with If-None-Match: *.
        mkey = self.key("cond/multi.bin")
        fresh = self._multipart(mkey, b"one", if_none_match="*")
        expect(fresh is None, f"first conditional complete failed: {fresh}")
        status = self._multipart(mkey, b"two", if_none_match="*")
        expect(status is not None,
               "CompleteMultipartUpload If-None-Match: * overwrote an "
               "existing key")
        expect(status[0] == 412,
               f"CompleteMultipartUpload If-None-Match: * on an existing key "
               f"answered {status}, want 412")
        body = self.s3.get_object(Bucket=self.bucket, Key=mkey)["Body"].read()
        expect(body == b"one", f"multipart object changed to {body!r}")

        # Racing writers: exactly one of several concurrent create-once puts
        # to a fresh key wins, the rest get 412 (the store checks and writes
        # atomically, not HEAD-then-PUT).
        from concurrent.futures import ThreadPoolExecutor

        rkey = self.key("cond/race.txt")
        writers = 8

        def put(i: int):
            try:
                self.s3.put_object(Bucket=self.bucket, Key=rkey,
                                   Body=f"writer {i}".encode(),
                                   IfNoneMatch="*")
                return 200
            except self.s3.exceptions.ClientError as exc:
                return error_status(exc)[0]

        with ThreadPoolExecutor(writers) as pool:
            results = list(pool.map(put, range(writers)))
        # (AWS may answer a loser 409 ConditionalRequestConflict instead.)
        expect(results.count(200) == 1 and
               all(r in (200, 409, 412) for r in results),
               f"{writers} racing If-None-Match puts answered {results}, "
               "want one 200 and the rest 412 (or 409)")
        return ("If-None-Match: * -> 412 on PutObject and on "
                f"CompleteMultipartUpload; object kept; 1 of {writers} "
                "racing creates wins")

    def _multipart(self, key: str, data: bytes, if_none_match: str):
        uid = self.s3.create_multipart_upload(
            Bucket=self.bucket, Key=key)["UploadId"]
        etag = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=uid,
                                   PartNumber=1, Body=data)["ETag"]
        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=uid,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
                IfNoneMatch=if_none_match)
            return None
        except self.s3.exceptions.ClientError as exc:
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                               UploadId=uid)
            except self.s3.exceptions.ClientError:
                pass
            return error_status(exc)

    # -- 5. pyarrow ----------------------------------------------------------

    def arrow_fs(self):
        import pyarrow.fs as pafs

        u = urlparse(self.endpoint)
        return pafs.S3FileSystem(
            endpoint_override=u.netloc,
            scheme=u.scheme or "http",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )

    def table(self):
        import pyarrow as pa

        return pa.table({
            "id": pa.array(range(1, 7), pa.int64()),
            "name": ["a", "b", "c", "d", "e", "f"],
            "amount": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5],
            "dt": ["2024-01-01", "2024-01-01", "2024-01-02",
                   "2024-01-02", "2024-01-03", "2024-01-03"],
            "shard": pa.array([0, 1, 0, 1, 0, 1], pa.int32()),
        })

    def check_pyarrow(self) -> str:
        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.fs as pafs

        fs = self.arrow_fs()
        root = f"{self.bucket}/{self.key('lake/orders')}"
        table = self.table()
        part = ds.partitioning(
            pa.schema([("dt", pa.string()), ("shard", pa.int32())]),
            flavor="hive")
        # create_dir=False: no "dir/" marker objects, like the lake writers;
        # the reads below then see prefixes that exist only through listing.
        ds.write_dataset(table, root, format="parquet", partitioning=part,
                         filesystem=fs, basename_template="part-{i}.parquet",
                         create_dir=False)

        files = [i.path for i in fs.get_file_info(
            pafs.FileSelector(root, recursive=True)) if i.is_file]
        expect(len(files) == 6, f"wrote {len(files)} files, want 6: {files}")
        expect(any("/dt=2024-01-02/shard=1/" in f for f in files),
               f"no hive layout in {files}")

        # The read path named in Hydrate's docs: a string root, hive
        # partitioning inferred (this issues HEAD on the prefix).
        dataset = ds.dataset(root, format="parquet", partitioning="hive",
                             filesystem=fs)
        got = dataset.to_table().sort_by("id")
        expect(got.num_rows == 6, f"read {got.num_rows} rows, want 6")
        expect(got.column("name").to_pylist() == list("abcdef"),
               f"names read back: {got.column('name').to_pylist()}")
        expect(set(got.schema.names) >= {"id", "name", "amount", "dt",
                                          "shard"},
               f"schema read back: {got.schema.names}")
        filt = dataset.to_table(filter=ds.field("dt") == "2024-01-03")
        expect(sorted(filt.column("id").to_pylist()) == [5, 6],
               f"partition filter read {filt.column('id').to_pylist()}")

        # get_file_info on a "directory" prefix and a missing path.
        info = fs.get_file_info(root)
        expect(info.type == pafs.FileType.Directory,
               f"prefix {root} seen as {info.type}")
        missing = fs.get_file_info(f"{root}/nope")
        expect(missing.type == pafs.FileType.NotFound,
               f"missing path seen as {missing.type}")
        return (f"wrote 6 hive-partitioned files, dataset() read "
                f"{got.num_rows} rows, partition filter works")

    # -- 6. duckdb -----------------------------------------------------------

    def duckdb_conn(self):
        import duckdb
        import duckdb_extension_httpfs

        pkg = Path(list(duckdb_extension_httpfs.__path__)[0])
        want = pkg / "extensions" / f"v{duckdb.__version__}" / \
            "httpfs.duckdb_extension"
        found = [want] if want.exists() else \
            sorted(pkg.glob("extensions/*/httpfs.duckdb_extension"))
        expect(bool(found), f"no httpfs.duckdb_extension under {pkg}")
        con = duckdb.connect()
        con.execute(f"LOAD '{found[0]}'")
        u = urlparse(self.endpoint)
        con.execute("SET s3_endpoint = ?", [u.netloc])
        con.execute("SET s3_url_style = 'path'")
        con.execute("SET s3_use_ssl = ?", [u.scheme == "https"])
        con.execute("SET s3_access_key_id = ?", [self.access_key])
        con.execute("SET s3_secret_access_key = ?", [self.secret_key])
        con.execute("SET s3_region = ?", [self.region])
        return con

    def check_duckdb(self) -> str:
        con = self.duckdb_conn()
        root = f"s3://{self.bucket}/{self.key('lake/orders')}"
        rows = con.execute(
            "SELECT id, name, CAST(dt AS VARCHAR), CAST(shard AS INTEGER) "
            "FROM read_parquet(?, hive_partitioning = true) ORDER BY id",
            [f"{root}/**/*.parquet"]).fetchall()
        expect(len(rows) == 6, f"read_parquet returned {len(rows)} rows")
        expect(rows[2] == (3, "c", "2024-01-02", 0), f"third row {rows[2]}")
        n = con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true) "
            "WHERE dt = '2024-01-03'", [f"{root}/**/*.parquet"]).fetchone()[0]
        expect(n == 2, f"partition-filtered count {n}, want 2")

        # JSON: newline-delimited, as the lake's JSON sink writes it.
        jkey = self.key("lake/events/dt=2024-01-01/events.json")
        lines = [{"id": i, "op": op, "payload": {"v": i * 10}}
                 for i, op in enumerate(["c", "u", "d"], 1)]
        self.s3.put_object(
            Bucket=self.bucket, Key=jkey,
            Body="\n".join(json.dumps(x) for x in lines).encode() + b"\n")
        jrows = con.execute(
            "SELECT id, op, payload.v FROM read_json_auto(?) ORDER BY id",
            [f"s3://{self.bucket}/{self.key('lake/events')}/*/*.json"],
        ).fetchall()
        expect(jrows == [(1, "c", 10), (2, "u", 20), (3, "d", 30)],
               f"read_json_auto returned {jrows}")

        # DuckDB writes too (COPY ... TO s3://), through multipart upload.
        out = f"s3://{self.bucket}/{self.key('duck/out.parquet')}"
        con.execute(f"COPY (SELECT range AS x FROM range(1000)) TO '{out}' "
                    "(FORMAT parquet)")
        total = con.execute("SELECT sum(x) FROM read_parquet(?)",
                            [out]).fetchone()[0]
        expect(total == 499500, f"sum over DuckDB-written file = {total}")
        return ("read_parquet hive (6 rows, filter), read_json_auto, "
                "COPY TO s3 all work")

    # -- cleanup -----------------------------------------------------------

    def cleanup(self) -> None:
        try:
            for up in self.s3.list_multipart_uploads(
                    Bucket=self.bucket, Prefix=self.prefix).get("Uploads", []):
                self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"])
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket,
                                           Prefix=self.prefix + "/"):
                objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objs:
                    self.s3.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": objs,
                                                   "Quiet": True})
            # A directory marker a client may have put for the shared parent
            # (pyarrow's create_dir does): drop it once nothing else is there.
            parent = self.prefix.split("/")[0] + "/"
            left = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=parent,
                                           MaxKeys=2).get("Contents", [])
            if [o["Key"] for o in left] == [parent]:
                self.s3.delete_object(Bucket=self.bucket, Key=parent)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: cleanup of {self.prefix} failed: {exc}",
                  file=sys.stderr)


def main() -> int:
    try:
        c = Checker()
    except CheckFailed as exc:
        print(f"FAIL setup: {exc}")
        return 2

    checks = [
        ("0 bucket", c.check_bucket),
        ("1 sigv4", c.check_sigv4),
        ("2 multipart", c.check_multipart),
        ("3 list-v2", c.check_list),
        ("4 if-none-match", c.check_if_none_match),
        ("5 pyarrow", c.check_pyarrow),
        ("6 duckdb", c.check_duckdb),
    ]
    passed = failed = 0
    try:
        for name, fn in checks:
            try:
                detail = fn()
            except CheckFailed as exc:
                print(f"FAIL {name}: {exc}")
                failed += 1
            except Exception as exc:  # noqa: BLE001
                print(f"FAIL {name}: {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
                failed += 1
            else:
                print(f"ok   {name}: {detail}")
                passed += 1
            sys.stdout.flush()
            if name == "0 bucket" and failed:
                break
    finally:
        c.cleanup()
    if failed:
        print(f"s3 store check: FAILED ({failed} failed, {passed} ok) "
              f"against {c.endpoint}")
        return 1
    print(f"s3 store check: all {passed} checks ok against {c.endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
