"""The benchmark tables in database hydrate_bench, generated with
generate_series: `bench_rows` (the snapshot and sink data, about 150 bytes a
row) and `fresh_rows` (the freshness load's 10,000 rows)."""

from stack import log

# integer, numeric, text and timestamp columns; `bucket` has 1,000 distinct
# values interleaved (the field partitioner's); last_update is distinct per
# row and follows the physical order, as in an append-mostly table.
BENCH_ROWS_DDL = """
CREATE TABLE public.bench_rows (
  id          bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  bucket      integer NOT NULL,
  quantity    integer NOT NULL,
  amount      numeric(12,2) NOT NULL,
  status      text NOT NULL,
  description text NOT NULL,
  created_at  timestamp NOT NULL,
  last_update timestamptz NOT NULL
)"""

BENCH_ROWS_FILL = """
INSERT INTO public.bench_rows
SELECT g,
       (g * 7919) % 100000,
       g % 1000,
       (g % 50) + 1,
       ((g * 7717) % 10000000) / 100.0,
       (ARRAY['new','paid','shipped','delivered','returned'])[(g % 5)::int + 1],
       md5(g::text) || ' ' || substr(md5((g * 3)::text), 1, (g % 24)::int + 8) || ' order line',
       timestamp '2020-01-01' + g * interval '1 second',
       timestamptz '2021-01-01 00:00:00+00' + g * interval '1 millisecond'
FROM generate_series(1::bigint, {rows}) AS g"""


def ensure_bench_rows(stack, rows):
    """Creates bench_rows with `rows` rows unless it already has exactly that."""
    have = stack.psql("SELECT obj_description(to_regclass('public.bench_rows'))")
    if have == f"rows={rows}":
        log(f"bench_rows: reusing {rows:,} rows")
        return
    log(f"bench_rows: generating {rows:,} rows")
    # CASCADE: the peers' view over it (recreated when they run).
    stack.psql("DROP TABLE IF EXISTS public.bench_rows CASCADE")
    stack.psql(BENCH_ROWS_DDL)
    stack.psql(BENCH_ROWS_FILL.format(rows=rows))
    # What a timestamp-mode poll needs; an incremental poll without it scans.
    stack.psql("CREATE INDEX bench_rows_last_update ON public.bench_rows (last_update)")
    # Hint bits and the visibility map set now, so neither COPY nor the
    # first poll pays for them.
    stack.psql("VACUUM (FREEZE, ANALYZE) public.bench_rows")
    stack.psql(f"COMMENT ON TABLE public.bench_rows IS 'rows={rows}'")


def table_stats(stack, table):
    out = stack.psql(
        f"SELECT count(*), floor(extract(epoch FROM max(last_update)) * 1000)::bigint,"
        f" pg_table_size('public.{table}') FROM public.{table}")
    count, max_ms, size = out.split("|")
    return int(count), int(max_ms), int(size)


def reset_fresh_rows(stack, rows=10000):
    stack.psql("DROP TABLE IF EXISTS public.fresh_rows")
    stack.psql("""CREATE TABLE public.fresh_rows (
      id bigint PRIMARY KEY, version integer NOT NULL, amount numeric(12,2) NOT NULL,
      note text NOT NULL, last_update timestamptz NOT NULL)""")
    stack.psql(f"""INSERT INTO public.fresh_rows
      SELECT g, 0, (g % 100000) / 100.0, md5(g::text), now() - interval '1 hour'
      FROM generate_series(1::bigint, {rows}) AS g""")
    stack.psql("CREATE INDEX fresh_rows_last_update ON public.fresh_rows (last_update)")
    stack.psql("VACUUM ANALYZE public.fresh_rows")
