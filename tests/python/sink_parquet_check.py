#!/usr/bin/env python3
"""Reads the Parquet objects the sink wrote for pair #3 with pyarrow and with
DuckDB (Hive partitioning) and checks what Athena and Glue need.

Usage: sink_parquet_check.py BUCKET PREFIX ROWS
  PREFIX is `<topics.dir>/<topic>` (no trailing slash); ROWS the records
  written. Reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
  AWS_REGION. Prints `ok` and exits 0, or the failed check and exits 1.
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse


def fail(message: str) -> None:
    print(f"FAIL: {message}")
    sys.exit(1)


def main() -> None:
    bucket, prefix, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    u = urlparse(endpoint)

    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    fs = pafs.S3FileSystem(
        endpoint_override=u.netloc, scheme=u.scheme,
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
        force_virtual_addressing=False)
    topic = prefix.rsplit("/", 1)[-1]
    us = f"{bucket}/{prefix}/country=United States/{topic}+0+0000000003.gz.parquet"
    meta = pq.ParquetFile(us, filesystem=fs).metadata
    if meta.row_group(0).column(0).compression != "GZIP":
        fail(f"codec {meta.row_group(0).column(0).compression}")
    table = pq.read_table(us, filesystem=fs)
    names = table.schema.names
    if "country" in names:
        fail(f"the partition column is inside the file: {names}")
    for want in ("state_province", "message_source", "message_source_engine", "environment", "message_topic"):
        if want not in names:
            fail(f"no {want} column in {names}")
    if "district" in names:
        fail("district was not renamed")
    lu = table.schema.field("last_update").type
    if not (pa.types.is_timestamp(lu) and lu.unit == "ms" and lu.tz in ("UTC", "+00:00")):
        fail(f"last_update is {lu}, not timestamp[ms, UTC]")
    if table.schema.field("address_id").type != pa.int32():
        fail(f"address_id is {table.schema.field('address_id').type}")
    first = table.slice(0, 1).to_pylist()[0]
    if first["address_id"] != 4 or first["message_source"] != "pagila":
        fail(f"first US row {first}")

    dataset = ds.dataset(f"{bucket}/{prefix}", filesystem=fs, format="parquet", partitioning="hive")
    whole = dataset.to_table()
    if whole.num_rows != rows:
        fail(f"pyarrow dataset has {whole.num_rows} rows, want {rows}")
    if whole.schema.names.count("country") != 1:
        fail(f"pyarrow dataset columns {whole.schema.names}")

    import duckdb
    import duckdb_extension_httpfs

    pkg = Path(list(duckdb_extension_httpfs.__path__)[0])
    want = pkg / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    found = [want] if want.exists() else sorted(pkg.glob("extensions/*/httpfs.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"LOAD '{found[0]}'")
    con.execute("SET s3_endpoint = ?", [u.netloc])
    con.execute("SET s3_url_style = 'path'")
    con.execute("SET s3_use_ssl = ?", [u.scheme == "https"])
    con.execute("SET s3_access_key_id = ?", [os.environ["AWS_ACCESS_KEY_ID"]])
    con.execute("SET s3_secret_access_key = ?", [os.environ["AWS_SECRET_ACCESS_KEY"]])
    con.execute("SET s3_region = ?", [os.environ.get("AWS_REGION", "us-east-1")])
    glob = f"s3://{bucket}/{prefix}/**/*.parquet"
    columns = [r[0] for r in con.execute(
        "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true)", [glob]).fetchall()]
    if columns.count("country") != 1:
        fail(f"duckdb columns {columns}")
    n = con.execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true)", [glob]).fetchone()[0]
    if n != rows:
        fail(f"duckdb counts {n} rows, want {rows}")
    us_rows = con.execute(
        "SELECT address_id, state_province, CAST(last_update AS VARCHAR) FROM read_parquet(?, hive_partitioning = true) "
        "WHERE country = 'United States' ORDER BY address_id", [glob]).fetchall()
    if not us_rows or us_rows[0][0] != 4 or not us_rows[0][2].startswith("2006-02-15 09:45:30"):
        fail(f"duckdb US rows {us_rows}")
    print("ok")


if __name__ == "__main__":
    main()
