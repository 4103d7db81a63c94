"""The dlt peer: bench_rows from PostgreSQL into the filesystem destination
(S3) as Parquet, with dlt's sql_database source the way its docs advise for
speed (pyarrow backend) and incremental on last_update, as a query-based
loader would run it. Runs in bench-dlt-venv; prints one JSON line."""

import json
import os
import time

import dlt
from dlt.sources.sql_database import sql_table


def main():
    table = sql_table(
        credentials=os.environ["BENCH_PG_URL"],
        schema="public",
        table=os.environ.get("BENCH_TABLE", "bench_rows"),
        backend="pyarrow",
        incremental=dlt.sources.incremental("last_update"),
    )
    pipeline = dlt.pipeline(
        pipeline_name=os.environ["BENCH_PIPELINE"],
        pipelines_dir=os.environ["BENCH_PIPELINES_DIR"],
        destination="filesystem",
        dataset_name="bench",
    )
    started = time.time()
    info = pipeline.run(table, loader_file_format="parquet")
    seconds = time.time() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get(os.environ.get("BENCH_TABLE", "bench_rows"))
    print(json.dumps({"seconds": seconds, "rows": rows, "dlt": dlt.__version__,
                      "loads": len(info.loads_ids)}))


if __name__ == "__main__":
    main()
