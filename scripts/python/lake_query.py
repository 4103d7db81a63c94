"""Query the demo's data lake with DuckDB, as Athena did in the original.

Reads the Parquet objects the `s3_sink_connector_02` connector wrote under
s3://$S3_BUCKET/topics/pagila.query/ (Hive partitions `country=...`) and
prints, for addresses 100..105:
  1. every version in the lake, ordered by address_id, last_update;
  2. the latest version of each (the seed README's ROW_NUMBER() query).

Run it with scripts/lake-query (which loads .dev/env and the project's venv),
or with `--json` for machine-readable output.
"""

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import duckdb_extension_httpfs

# last_update as text (UTC): DuckDB hands TIMESTAMP WITH TIME ZONE values to
# Python through pytz, which the project does not need otherwise.
COLUMNS = (
    "address_id, address, address2, city, state_province, postal_code, country, "
    "strftime(last_update, '%Y-%m-%d %H:%M:%S.%g') AS last_update"
)

LATEST = f"""
SELECT {COLUMNS}
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY address_id
                                   ORDER BY last_update DESC) AS row_num
      FROM pagila_query) AS x
WHERE x.row_num = 1 AND address_id BETWEEN 100 AND 105
ORDER BY address_id
"""

HISTORY = f"""
SELECT {COLUMNS}
FROM pagila_query
WHERE address_id BETWEEN 100 AND 105
ORDER BY address_id, last_update
"""


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that reads the local S3-compatible store."""
    # DuckDB cannot download extensions here: load the one the
    # duckdb-extension-httpfs package ships for this DuckDB version.
    pkg = Path(list(duckdb_extension_httpfs.__path__)[0])
    want = pkg / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    found = [want] if want.exists() else sorted(pkg.glob("extensions/*/httpfs.duckdb_extension"))
    if not found:
        sys.exit(f"no httpfs.duckdb_extension under {pkg}")
    con = duckdb.connect()
    con.execute(f"LOAD '{found[0]}'")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        url = urlparse(endpoint)
        con.execute("SET s3_endpoint = ?", [url.netloc])
        con.execute("SET s3_url_style = 'path'")
        con.execute("SET s3_use_ssl = ?", [url.scheme == "https"])
    con.execute("SET s3_access_key_id = ?", [os.environ["AWS_ACCESS_KEY_ID"]])
    con.execute("SET s3_secret_access_key = ?", [os.environ["AWS_SECRET_ACCESS_KEY"]])
    con.execute("SET s3_region = ?", [os.environ.get("AWS_REGION", "us-east-1")])
    con.execute("SET TimeZone = 'UTC'")
    return con


def rows(con, sql):
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, [str(v) if v is not None else None for v in row])) for row in cursor.fetchall()]


def show(title, table):
    print(title)
    if not table:
        print("  (no rows)")
        return
    names = list(table[0])
    widths = {n: max(len(n), *(len(str(r[n])) for r in table)) for n in names}
    print("  " + "  ".join(n.ljust(widths[n]) for n in names))
    for r in table:
        print("  " + "  ".join(str(r[n]).ljust(widths[n]) for n in names))
    print()


def main() -> None:
    bucket = os.environ.get("S3_BUCKET", "pagila-lake")
    glob = f"s3://{bucket}/topics/pagila.query/*/*.parquet"
    con = connect()
    # One read of the lake for both queries: a view would list the objects
    # again for each, and one that lands in between would make them disagree.
    con.execute(
        f"CREATE TABLE pagila_query AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)"
    )
    history, latest = rows(con, HISTORY), rows(con, LATEST)
    if "--json" in sys.argv[1:]:
        print(json.dumps({"history": history, "latest": latest}))
        return
    show(f"Every version of addresses 100..105 in {glob}:", history)
    show("The latest version of each (ROW_NUMBER() OVER (PARTITION BY address_id ORDER BY last_update DESC)):", latest)


if __name__ == "__main__":
    main()
