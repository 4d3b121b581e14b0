#!/usr/bin/env python3
"""Check an axia Parquet history directory with independent readers.

Usage: check_parquet.py DATA_DIR

For every `data.parquet` under DATA_DIR (an `ohlcv/symbol=…/timeframe=…/<period>=…/` Hive
layout, possibly under a prefix):

- verifies axia's self-checksum (key-value metadata `axia.md5`, stdlib only);
- reads it with pyarrow and checks the schema (open_time timestamp[ms, tz=UTC], open/high/low/
  close double, volume uint64, spread uint32, real_volume uint64) and that open_time ascends;
- checks that every bar's open time lies in the period the path names;
- reads it with DuckDB (`read_parquet(..., hive_partitioning=true)`) and checks that both
  readers see the same rows (count, first/last open time, total volume) and that the Hive
  columns match the path;
- prints one JSON line per file.

Then for every `manifest.json` it checks that each entry's object exists with the listed size,
md5, rows and first/last open time, and that every object under that prefix is listed.

pyarrow and DuckDB are optional: a reader that is not importable is skipped (and reported).
Exits 1 on any mismatch, 0 otherwise.
"""
import hashlib
import json
import os
import sys
from datetime import datetime, timezone

EXPECTED_ARROW = {
    "open_time": "timestamp[ms, tz=UTC]",
    "open": "double",
    "high": "double",
    "low": "double",
    "close": "double",
    "volume": "uint64",
    "spread": "uint32",
    "real_volume": "uint64",
}
EXPECTED_DUCKDB = {
    "open_time": "TIMESTAMP WITH TIME ZONE",
    "volume": "UBIGINT",
    "spread": "UINTEGER",
    "real_volume": "UBIGINT",
}


def iso_ms(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339_ms(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def hive_parts(rel):
    """{'symbol': 'EURUSD', 'timeframe': 'M1', 'date': '2025-10-16'} from a relative path."""
    return dict(p.split("=", 1) for p in rel.split("/")[:-1] if "=" in p)


def self_checksum_problem(path):
    """Checks axia's self-checksum (key-value metadata `axia.md5`: the md5 of the file with that
    32-character value replaced by 32 zeros); None when fine, a message otherwise."""
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        return "not a Parquet file (magic bytes missing)"
    footer_len = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_len
    # Thrift compact KeyValue: key bytes, then field 2 (binary, 0x18) of length 32 (0x20).
    at = data.find(b"axia.md5\x18\x20", max(start, 0))
    if start < 4 or at < 0:
        return "no axia.md5 self-checksum in the footer"
    slot = at + len(b"axia.md5\x18\x20")
    stored = data[slot : slot + 32]
    actual = hashlib.md5(data[:slot] + b"0" * 32 + data[slot + 32 :]).hexdigest().encode()
    if stored != actual:
        return f"self-checksum mismatch: axia.md5 {stored.decode(errors='replace')} != {actual.decode()}"
    return None


def period_ms(parts):
    """[start, end) in epoch ms of the `date=`, `month=` or `year=` partition, or None."""
    def ms(y, m, d):
        return int(datetime(y, m, d, tzinfo=timezone.utc).timestamp() * 1000)

    try:
        if "date" in parts:
            y, m, d = (int(x) for x in parts["date"].split("-"))
            return ms(y, m, d), ms(y, m, d) + 86_400_000
        if "month" in parts:
            y, m = (int(x) for x in parts["month"].split("-"))
            return ms(y, m, 1), ms(y + m // 12, m % 12 + 1, 1)
        if "year" in parts:
            y = int(parts["year"])
            return ms(y, 1, 1), ms(y + 1, 1, 1)
    except ValueError:
        return None
    return None


def load_readers():
    readers = {}
    try:
        import pyarrow.parquet as pq  # noqa: F401

        readers["pyarrow"] = True
    except ImportError:
        print(json.dumps({"warning": "pyarrow is not importable; skipped"}))
    try:
        import duckdb  # noqa: F401

        readers["duckdb"] = True
    except ImportError:
        print(json.dumps({"warning": "duckdb is not importable; skipped"}))
    return readers


def read_pyarrow(path):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    problems = []
    types = {f.name: str(f.type) for f in table.schema}
    for name, expected in EXPECTED_ARROW.items():
        if types.get(name) != expected:
            problems.append(f"pyarrow: {name} is {types.get(name)}, expected {expected}")
    for name in ("open", "high", "low", "close", "volume", "open_time"):
        if name in types and table[name].null_count:
            problems.append(f"pyarrow: {name} has nulls")
    ms = pc.cast(table["open_time"], "int64").to_pylist() if "open_time" in types else []
    if any(b <= a for a, b in zip(ms, ms[1:])):
        problems.append("pyarrow: open_time is not strictly ascending")
    volume = sum(table["volume"].to_pylist()) if "volume" in types else None
    stats = {"rows": table.num_rows, "first": min(ms, default=None), "last": max(ms, default=None), "volume": volume}
    return stats, problems


def read_duckdb(con, path, rel):
    problems = []
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning=true)", [path]).fetchall()
    types = {row[0]: row[1] for row in described}
    for name, expected in EXPECTED_DUCKDB.items():
        if types.get(name) != expected:
            problems.append(f"duckdb: {name} is {types.get(name)}, expected {expected}")
    row = con.execute(
        "SELECT count(*), min(epoch_ms(open_time)), max(epoch_ms(open_time)), sum(volume)::HUGEINT "
        "FROM read_parquet(?, hive_partitioning=true)",
        [path],
    ).fetchone()
    for column, value in hive_parts(rel).items():
        if column not in types:
            problems.append(f"duckdb: hive column {column} missing")
            continue
        seen = con.execute(
            f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM read_parquet(?, hive_partitioning=true)', [path]
        ).fetchall()
        # DuckDB may type `date=2025-10-16` as a DATE and `year=2025` as a number; compare text.
        if row[0] and [str(s[0]) for s in seen] != [value]:
            problems.append(f"duckdb: hive column {column} reads {seen}, path says {value}")
    stats = {"rows": row[0], "first": row[1], "last": row[2], "volume": int(row[3]) if row[3] is not None else None}
    return stats, problems


def check_files(base, readers):
    results = {}
    con = None
    if "duckdb" in readers:
        import duckdb

        con = duckdb.connect()
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".axia-"))
        if "data.parquet" not in filenames:
            continue
        path = os.path.join(dirpath, "data.parquet")
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        line = {"file": rel, **{k: v for k, v in hive_parts(rel).items()}}
        problems = []
        checksum = self_checksum_problem(path)
        if checksum:
            problems.append(checksum)
        stats = {}
        for name in ("pyarrow", "duckdb"):
            if name not in readers:
                continue
            try:
                s, p = read_pyarrow(path) if name == "pyarrow" else read_duckdb(con, path, rel)
            except Exception as e:  # a reader refusing the file is exactly what we look for
                s, p = None, [f"{name}: cannot read: {e}"]
            stats[name] = s
            problems += p
            if s is not None:
                line[f"{name}_rows"] = s["rows"]
        known = [s for s in stats.values() if s is not None]
        if len(known) == 2 and known[0] != known[1]:
            problems.append(f"readers disagree: pyarrow {known[0]} vs duckdb {known[1]}")
        if known and known[0]["rows"]:
            line["first_open_time"] = iso_ms(known[0]["first"])
            line["last_open_time"] = iso_ms(known[0]["last"])
            period = period_ms(hive_parts(rel))
            if period is None:
                problems.append("the path names no date=, month= or year= partition")
            elif not (period[0] <= known[0]["first"] and known[0]["last"] < period[1]):
                problems.append("bars lie outside the partition period of the path")
        line["ok"] = not problems
        if problems:
            line["problems"] = problems
        print(json.dumps(line))
        results[rel] = (known[0] if known else None, problems)
    return results


def check_manifests(base, files):
    failures = 0
    manifests = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".axia-"))
        if "manifest.json" in filenames:
            manifests.append(dirpath)
    if not manifests and files:
        print(json.dumps({"manifest": None, "ok": False, "problems": ["data files but no manifest.json"]}))
        return 1
    for root in sorted(manifests):
        rel_root = os.path.relpath(root, base).replace(os.sep, "/")
        prefix = "" if rel_root == "." else rel_root + "/"
        problems = []
        try:
            with open(os.path.join(root, "manifest.json"), "rb") as fh:
                manifest = json.load(fh)
        except (OSError, ValueError) as e:
            print(json.dumps({"manifest": prefix + "manifest.json", "ok": False, "problems": [str(e)]}))
            failures += 1
            continue
        if manifest.get("version") != 1:
            problems.append(f"version {manifest.get('version')}, expected 1")
        objects = manifest.get("objects", {})
        md5_ok = 0
        for key, entry in sorted(objects.items()):
            path = os.path.join(root, *key.split("/"))
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as e:
                problems.append(f"{key}: {e}")
                continue
            if len(data) != entry.get("size"):
                problems.append(f"{key}: size {len(data)} != manifest {entry.get('size')}")
            if hashlib.md5(data).hexdigest() != entry.get("md5"):
                problems.append(f"{key}: md5 {hashlib.md5(data).hexdigest()} != manifest {entry.get('md5')}")
            else:
                md5_ok += 1
            stats, _ = files.get(prefix + key, (None, []))
            if stats is not None:
                if stats["rows"] != entry.get("rows"):
                    problems.append(f"{key}: {stats['rows']} rows != manifest {entry.get('rows')}")
                for field, ms in (("first_open_time", stats["first"]), ("last_open_time", stats["last"])):
                    if ms is not None and parse_rfc3339_ms(entry.get(field, "")) != ms:
                        problems.append(f"{key}: {field} {iso_ms(ms)} != manifest {entry.get(field)}")
        listed = {prefix + k for k in objects}
        for rel in files:
            if rel.startswith(prefix + "ohlcv/") and rel not in listed:
                problems.append(f"{rel}: not in the manifest")
        line = {
            "manifest": prefix + "manifest.json",
            "last_updated": manifest.get("last_updated"),
            "entries": len(objects),
            "md5_ok": md5_ok,
            "ok": not problems,
        }
        if problems:
            line["problems"] = problems
            failures += 1
        print(json.dumps(line))
    return failures


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    base = argv[1]
    if not os.path.isdir(base):
        print(f"{base}: not a directory", file=sys.stderr)
        return 2
    readers = load_readers()
    files = check_files(base, readers)
    failures = sum(1 for _, problems in files.values() if problems)
    failures += check_manifests(base, files)
    rows = sum(s["rows"] for s, _ in files.values() if s is not None)
    print(json.dumps({"files": len(files), "rows": rows, "readers": sorted(readers), "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
