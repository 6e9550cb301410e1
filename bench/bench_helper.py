#!/usr/bin/env python3
"""Helper for bench/run.sh (stdlib only).

Subcommands:
  gen KEYS VALUE_SIZE      write RESP "SET key:NNNNNNN <value>" commands to stdout
  report RAW_TSV OUT_JSON  aggregate the raw records written by run.sh,
                           print the comparison table and write JSON
"""
import json
import os
import statistics
import sys


def gen(keys, size):
    out = sys.stdout.buffer
    width = max(7, len(str(keys - 1)))
    filler = b"x" * size
    buf = []
    for i in range(keys):
        key = b"key:%0*d" % (width, i)
        # distinct value per key, padded/truncated to exactly `size` bytes
        val = (b"v%d:" % i + filler)[:size]
        buf.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
        if len(buf) >= 4096:
            out.write(b"".join(buf))
            buf.clear()
    out.write(b"".join(buf))
    out.flush()


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 4)


def rnd(v, digits):
    return None if v is None else round(v, digits)


def fmt_num(v, spec):
    return "n/a" if v is None else format(v, spec)


def fmt_ratio(v):
    return "n/a" if v is None else "%.2fx" % v


def report(raw_path, out_path):
    clk = int(os.environ.get("BENCH_CLK_TCK", "100"))
    tp = {}          # label -> kind -> list of run dicts
    order = []
    mem = {}
    start = {}
    with open(raw_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if not parts or not parts[0]:
                continue
            typ = parts[0]
            if typ == "tp":
                _, kind, round_no, label, rps, ticks, reqs, wall, status = parts
                if label not in tp:
                    tp[label] = {}
                    order.append(label)
                tp[label].setdefault(kind, []).append({
                    "round": int(round_no),
                    "ops_per_sec": float(rps) if rps else None,
                    "cpu_ticks": int(ticks) if ticks else None,
                    "requests": int(reqs),
                    "wall_seconds": float(wall) if wall else None,
                    "status": status,
                })
            elif typ == "mem":
                _, kind, keys, status, rss0, rss, hwm, um0, um, load_s = parts
                mem[kind] = {
                    "status": status,
                    "keys": int(keys),
                    "rss_empty_kb": int(rss0) if rss0 else None,
                    "rss_kb": int(rss) if rss else None,
                    "peak_rss_kb": int(hwm) if hwm else None,
                    "used_memory_empty": int(um0) if um0 else None,
                    "used_memory": int(um) if um else None,
                    "load_seconds": float(load_s) if load_s else None,
                }
            elif typ == "start":
                _, kind, trial, ms = parts
                start.setdefault(kind, []).append(float(ms))

    def agg(runs):
        ok = [r for r in runs if r["status"] == "ok" and r["ops_per_sec"] is not None]
        res = {
            "ops_per_sec": rnd(statistics.mean(r["ops_per_sec"] for r in ok), 1) if ok else None,
            "ops_per_sec_rounds": [r["ops_per_sec"] for r in runs],
            "us_per_req": None,
            "cpu_seconds": None,
            "requests": None,
            "failed_runs": len(runs) - len(ok),
        }
        okc = [r for r in ok if r["cpu_ticks"] is not None]
        if okc:
            ticks = sum(r["cpu_ticks"] for r in okc)
            reqs = sum(r["requests"] for r in okc)
            res["cpu_seconds"] = rnd(ticks / clk, 3)
            res["requests"] = reqs
            res["us_per_req"] = rnd(ticks / clk / reqs * 1e6, 3) if reqs else None
        return res

    throughput = []
    for label in order:
        r = agg(tp[label].get("redis", []))
        c = agg(tp[label].get("cinnabar", []))
        throughput.append({
            "test": label,
            "redis": r,
            "cinnabar": c,
            "ops_ratio": ratio(c["ops_per_sec"], r["ops_per_sec"]),
            "cpu_ratio": ratio(c["us_per_req"], r["us_per_req"]),
        })

    memory = None
    if mem:
        r = mem.get("redis", {})
        c = mem.get("cinnabar", {})
        memory = {
            "keys": int(os.environ.get("BENCH_MEM_KEYS", "0")),
            "value_size": int(os.environ.get("BENCH_MEM_VALUE_SIZE", "0")),
            "redis": r,
            "cinnabar": c,
            "rss_ratio": ratio(c.get("rss_kb"), r.get("rss_kb")),
            "used_memory_ratio": ratio(c.get("used_memory"), r.get("used_memory")),
        }

    startup = None
    if start:
        startup = {}
        for kind in ("redis", "cinnabar"):
            t = start.get(kind, [])
            startup[kind] = {
                "ms_median": rnd(statistics.median(t), 2) if t else None,
                "ms_min": min(t) if t else None,
                "trials_ms": t,
            }
        startup["ratio"] = ratio(startup["cinnabar"]["ms_median"], startup["redis"]["ms_median"])

    meta = {
        "date": os.environ.get("BENCH_DATE"),
        "quick": os.environ.get("BENCH_QUICK") == "1",
        "rounds": int(os.environ.get("BENCH_ROUNDS", "0")),
        "requests_per_run": int(os.environ.get("BENCH_N", "0")),
        "keyspace": int(os.environ.get("BENCH_KEYSPACE", "0")),
        "clients": int(os.environ.get("BENCH_CLIENTS", "0")),
        "warmup": os.environ.get("BENCH_WARMUP") == "1",
        "clk_tck": clk,
        "redis_server": os.environ.get("BENCH_REDIS_SERVER"),
        "cinnabar_server": os.environ.get("BENCH_CINNABAR_SERVER"),
        "redis_benchmark_version": os.environ.get("BENCH_RB_VERSION"),
        "nproc": os.cpu_count(),
        "loadavg_at_start": os.environ.get("BENCH_LOADAVG"),
    }

    doc = {"meta": meta, "throughput": throughput, "memory": memory, "startup": startup}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, out_path)

    # ---- human-readable table ----
    print()
    print("Cinnabar vs redis-server  (rounds=%d, -n %d per run, -r %d, -c %d, loadavg at start: %s)"
          % (meta["rounds"], meta["requests_per_run"], meta["keyspace"], meta["clients"],
             meta["loadavg_at_start"]))
    if throughput:
        hdr = ["test", "redis ops/s", "cinnabar ops/s", "ratio", "redis us/req", "cinnabar us/req", "ratio"]
        rows = []
        for t in throughput:
            rows.append([
                t["test"],
                fmt_num(t["redis"]["ops_per_sec"], ",.0f"),
                fmt_num(t["cinnabar"]["ops_per_sec"], ",.0f"),
                fmt_ratio(t["ops_ratio"]),
                fmt_num(t["redis"]["us_per_req"], ".2f"),
                fmt_num(t["cinnabar"]["us_per_req"], ".2f"),
                fmt_ratio(t["cpu_ratio"]),
            ])
        widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]

        def line(cells):
            out = [str(cells[0]).ljust(widths[0])]
            out += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:])]
            return " | ".join(out)

        print(line(hdr))
        print("-+-".join("-" * w for w in widths))
        for row in rows:
            print(line(row))
        fails = [t["test"] for t in throughput
                 if t["redis"]["failed_runs"] or t["cinnabar"]["failed_runs"]]
        if fails:
            print("failed runs in: " + ", ".join(fails))
    if memory:
        r, c = memory["redis"], memory["cinnabar"]

        def mb_kb(v):
            return "n/a" if v is None else "%.1f MB" % (v / 1024.0)

        def mb_b(v):
            return "n/a" if v is None else "%.1f MB" % (v / 1048576.0)

        print()
        print("memory (%d keys x %d-byte values): RSS redis %s, cinnabar %s, ratio %s"
              % (memory["keys"], memory["value_size"], mb_kb(r.get("rss_kb")), mb_kb(c.get("rss_kb")),
                 fmt_ratio(memory["rss_ratio"])))
        print("memory used_memory: redis %s, cinnabar %s, ratio %s"
              % (mb_b(r.get("used_memory")), mb_b(c.get("used_memory")),
                 fmt_ratio(memory["used_memory_ratio"])))
        print("memory peak RSS: redis %s, cinnabar %s; empty-server RSS: redis %s, cinnabar %s"
              % (mb_kb(r.get("peak_rss_kb")), mb_kb(c.get("peak_rss_kb")),
                 mb_kb(r.get("rss_empty_kb")), mb_kb(c.get("rss_empty_kb"))))
        for kind in ("redis", "cinnabar"):
            st = memory[kind].get("status")
            if st and st != "ok":
                print("memory %s: %s" % (kind, st))
    if startup:
        r, c = startup["redis"], startup["cinnabar"]
        print()
        print("startup to first PONG (median of %d, min in parens): redis %s ms (%s), cinnabar %s ms (%s), ratio %s"
              % (len(r["trials_ms"]), fmt_num(r["ms_median"], ".1f"), fmt_num(r["ms_min"], ".1f"),
                 fmt_num(c["ms_median"], ".1f"), fmt_num(c["ms_min"], ".1f"), fmt_ratio(startup["ratio"])))
    print()
    print("JSON written to %s" % out_path)


def main(argv):
    if len(argv) >= 2 and argv[1] == "gen" and len(argv) == 4:
        gen(int(argv[2]), int(argv[3]))
    elif len(argv) >= 2 and argv[1] == "report" and len(argv) == 4:
        report(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        sys.exit(1)
