#!/usr/bin/env python3
"""Read a Hive-partitioned Parquet tree the way lake users do, and report it.

Usage: read_lake_parquet.py ROOT

ROOT is a directory laid out like the S3 sink's objects
(`<field>=<value>/<topic>+<partition>+<offset>.gz.parquet`). Reads it with
pyarrow.dataset (hive partitioning) and with DuckDB
(`read_parquet(..., hive_partitioning=true)`), and prints one JSON object:

  pyarrow:  {"types": {column: arrow type}, "columns": [...], "rows": [...]}
  duckdb:   {"types": {column: SQL type}, "columns": [...], "rows": [...]}
  files:    {"columns": columns stored inside the files (not the path)}

Rows are lists of strings in the column order, sorted by address_id, so the
caller can compare engines without Python-specific types.
"""

from __future__ import annotations

import glob
import json
import os
import sys

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def as_text(value) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def main() -> int:
    root = sys.argv[1]
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    table = dataset.to_table().sort_by("address_id")
    pyarrow_report = {
        "types": {f.name: str(f.type) for f in table.schema},
        "columns": table.schema.names,
        "rows": [[as_text(r[c]) for c in table.schema.names] for r in table.to_pylist()],
    }

    files = sorted(glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True))
    file_columns = sorted({name for f in files for name in pq.read_schema(f).names})

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    pattern = os.path.join(root, "**", "*.parquet").replace("'", "''")
    source = f"read_parquet('{pattern}', hive_partitioning = true)"
    rel = con.sql(f"SELECT * FROM {source}")
    types = {c: str(t) for c, t in zip(rel.columns, rel.types)}

    # Text in SQL: Python's conversion of TIMESTAMPTZ would need pytz.
    def text(column: str) -> str:
        quoted = '"' + column.replace('"', '""') + '"'
        if types[column] == "TIMESTAMP WITH TIME ZONE":
            return f"strftime({quoted}, '%Y-%m-%dT%H:%M:%S') || '+00:00'"
        return f"CAST({quoted} AS VARCHAR)"

    select = ", ".join(text(c) for c in rel.columns)
    duck_rows = con.sql(f"SELECT {select} FROM {source} ORDER BY address_id").fetchall()
    duckdb_report = {
        "types": types,
        "columns": rel.columns,
        "rows": [list(row) for row in duck_rows],
    }

    print(json.dumps({"pyarrow": pyarrow_report, "duckdb": duckdb_report, "files": {"columns": file_columns}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
