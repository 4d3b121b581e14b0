#!/usr/bin/env python3
"""Print one series of an axia Parquet store as axia's CSV, read by pyarrow or DuckDB.

Usage: parquet_to_csv.py [--reader pyarrow|duckdb] DATA_DIR SYMBOL TIMEFRAME

Reads `DATA_DIR/ohlcv/symbol=SYMBOL/timeframe=TIMEFRAME/*/data.parquet` with Hive
partitioning, orders by open time and prints `open_time_utc,open,high,low,close,volume`
(ISO-8601 UTC, shortest round-trip floats) so the output can be compared byte for byte with
`axia fetch SYMBOL TIMEFRAME --format csv`.
"""
import argparse
import sys
from datetime import datetime, timezone


def rows_pyarrow(base: str):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(base, format="parquet", partitioning="hive").to_table()
    table = table.sort_by("open_time")
    ms = pc.cast(pc.cast(table["open_time"], pa.timestamp("ms", tz="UTC")), pa.int64()).to_pylist()
    cols = [table[c].to_pylist() for c in ("open", "high", "low", "close", "volume")]
    return zip(ms, *cols)


def rows_duckdb(base: str):
    import duckdb

    glob = f"{base}/*/data.parquet"
    query = (
        "SELECT epoch_ms(open_time), open, high, low, close, volume "
        "FROM read_parquet(?, hive_partitioning = true) ORDER BY open_time"
    )
    return duckdb.connect().execute(query, [glob]).fetchall()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reader", choices=["pyarrow", "duckdb"], default="pyarrow")
    p.add_argument("data_dir")
    p.add_argument("symbol")
    p.add_argument("timeframe")
    a = p.parse_args()
    base = f"{a.data_dir}/ohlcv/symbol={a.symbol}/timeframe={a.timeframe}"
    rows = rows_pyarrow(base) if a.reader == "pyarrow" else rows_duckdb(base)
    out = sys.stdout
    out.write("open_time_utc,open,high,low,close,volume\n")
    for ms, o, h, l, c, v in rows:
        t = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.write(f"{t},{float(o)!r},{float(h)!r},{float(l)!r},{float(c)!r},{int(v)}\n")


if __name__ == "__main__":
    main()
