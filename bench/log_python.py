#!/usr/bin/env python3
"""The reference for the explorer benchmark: the way a Python tool (TensorBoard's approach) serves a
training log, reading the whole per-unit table into memory once and answering each chart query by
scanning it with numpy. Measures the load (time, peak memory) and the same series queries as
bench_serve_load (seeded random layers, units and ranges; one process, no HTTP). Prints one JSON line.

  log_python.py RUN/run.sqlite [--queries 300]
"""
import argparse
import json
import random
import resource
import sqlite3
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    t0 = time.time()
    db = sqlite3.connect(f"file:{args.log}?mode=ro", uri=True)
    n = db.execute("SELECT COUNT(*) FROM unit_stats").fetchone()[0]
    layer = np.empty(n, np.int16)
    unit = np.empty(n, np.int32)
    it = np.empty(n, np.int64)
    norm = np.empty(n, np.float64)
    cur = db.execute("SELECT layer, unit, iteration, norm FROM unit_stats")
    pos = 0
    while True:
        rows = cur.fetchmany(200000)
        if not rows:
            break
        a = np.array(rows, dtype=np.float64)
        k = len(rows)
        layer[pos:pos + k], unit[pos:pos + k], it[pos:pos + k], norm[pos:pos + k] = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        pos += k
    load = time.time() - t0
    units = [u for (u,) in db.execute("SELECT units FROM layers ORDER BY layer")]
    last = db.execute("SELECT MAX(iteration) FROM records").fetchone()[0]

    rng = random.Random(1000)
    times = {"layer series": [], "group series (1/8 of the layer)": [], "filter series": []}
    kinds = list(times)
    for q in range(args.queries):
        kind = kinds[q % 3]
        l = rng.randrange(len(units))
        a, b = sorted((rng.randrange(last + 1), rng.randrange(last + 1)))
        if rng.random() < 0.5:
            a, b = 0, last
        start = time.perf_counter()
        m = (layer == l) & (it >= a) & (it <= b)
        if kind == "group series (1/8 of the layer)":
            g = max(1, units[l] // 8)
            first = rng.randrange(units[l] - g + 1)
            m &= (unit >= first) & (unit < first + g)
        elif kind == "filter series":
            m &= unit == rng.randrange(units[l])
        bucket = (it[m] - a) * 300 // (b - a + 1)
        v = norm[m]
        order = np.argsort(bucket, kind="stable")
        bucket, v = bucket[order], v[order]
        edges = np.flatnonzero(np.diff(bucket)) + 1 if len(bucket) else np.array([], np.int64)
        starts = np.concatenate(([0], edges)) if len(bucket) else edges
        if len(v):
            np.minimum.reduceat(v, starts), np.maximum.reduceat(v, starts), np.add.reduceat(v, starts)
        times[kind].append(1000 * (time.perf_counter() - start))
    out = {"rows": n, "load_seconds": load, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "kinds": {}}
    for kind, v in times.items():
        v.sort()
        out["kinds"][kind] = {"queries": len(v), "p50_ms": v[len(v) // 2], "p95_ms": v[int(0.95 * len(v))]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
