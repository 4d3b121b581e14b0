#!/usr/bin/env python3
"""Independent resampling of an H1 bar file on the New York close clock (stdlib only).

Reads a pandas-style CSV (unnamed time column, Open, High, Low, Close, Volume; UTC open
times), aggregates to H4, D1, W1 or MN1 and prints axia's CSV format
(`open_time_utc,open,high,low,close,volume`). The clock is New York local time plus 7 hours:
a trading day starts at 17:00 New York; H4 bars start at 00/04/.../20 on that clock, weeks on
Monday, months on the 1st. Written without axia's code so the two can be compared.

Usage: ny_close_resample.py FILE TIMEFRAME
"""
import csv
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")
SHIFT = timedelta(hours=7)


def bucket(clock: datetime, tf: str) -> datetime:
    if tf == "H4":
        return clock.replace(hour=clock.hour - clock.hour % 4, minute=0, second=0)
    day = clock.replace(hour=0, minute=0, second=0)
    if tf == "D1":
        return day
    if tf == "W1":
        return day - timedelta(days=day.weekday())
    if tf == "MN1":
        return day.replace(day=1)
    raise SystemExit(f"unsupported timeframe {tf}")


def clock_to_utc(clock: datetime) -> datetime:
    local = (clock - SHIFT).replace(tzinfo=NY, fold=0)
    return local.astimezone(timezone.utc)


def fmt(x: float) -> str:
    return repr(float(x))


def main() -> None:
    path, tf = sys.argv[1], sys.argv[2].upper()
    groups: dict[datetime, list] = {}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            t = datetime.fromisoformat(row[0]).replace(tzinfo=timezone.utc)
            clock = t.astimezone(NY).replace(tzinfo=None) + SHIFT
            o, h, l, c, v = float(row[1]), float(row[2]), float(row[3]), float(row[4]), int(float(row[5]))
            b = bucket(clock, tf)
            g = groups.get(b)
            if g is None:
                groups[b] = [o, h, l, c, v]
            else:
                g[1] = max(g[1], h)
                g[2] = min(g[2], l)
                g[3] = c
                g[4] += v
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["open_time_utc", "open", "high", "low", "close", "volume"])
    for b in sorted(groups):
        o, h, l, c, v = groups[b]
        out.writerow([clock_to_utc(b).strftime("%Y-%m-%dT%H:%M:%SZ"), fmt(o), fmt(h), fmt(l), fmt(c), v])


if __name__ == "__main__":
    main()
