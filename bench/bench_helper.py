#!/usr/bin/env python3
"""Helper for bench/run.sh (stdlib only).

Subcommands:
  gen KEYS VALUE_SIZE      write RESP "SET key:NNNNNNN <value>" commands to stdout
  gen-mixed KEYS           write RESP commands for the persistence data set: 70% strings of about
                           100 bytes, 10% small hashes, 10% small lists, 10% small zsets
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


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def gen_mixed(keys):
    """Deterministic: the same commands for every server. Strings are 90-110 bytes of mixed text and
    digits (words and numbers: LZF saves a little, as on real text); hashes have 5 fields, lists 8 elements,
    zsets 6 members, all small enough for the listpack encodings."""
    out = sys.stdout.buffer
    n_str = keys * 7 // 10
    n_each = (keys - n_str) // 3
    n_str = keys - 3 * n_each
    words = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf", b"hotel"]
    buf = []

    def flush(force=False):
        if force or len(buf) >= 4096:
            out.write(b"".join(buf))
            buf.clear()

    x = 12345
    for i in range(n_str):
        size = 90 + (i * 7919) % 21
        parts = []
        length = 0
        while length < size:
            x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            parts.append(b"%s%d " % (words[x >> 61], (x >> 20) & 0xFFFFF))
            length += len(parts[-1])
        val = b"".join(parts)[:size]
        buf.append(resp(b"SET", b"str:%07d" % i, val))
        flush()
    for i in range(n_each):
        args = [b"HSET", b"hash:%07d" % i]
        for f in range(5):
            args += [b"field%d" % f, b"%s-%d" % (words[(i + f) % 8], i * 31 + f)]
        buf.append(resp(*args))
        flush()
    for i in range(n_each):
        args = [b"RPUSH", b"list:%07d" % i]
        for e in range(8):
            args.append(b"item-%d-%s" % (i + e, words[e]))
        buf.append(resp(*args))
        flush()
    for i in range(n_each):
        args = [b"ZADD", b"zset:%07d" % i]
        for m in range(6):
            score = b"%d" % (i + m) if m % 2 == 0 else b"%d.5" % (i * 3 + m)
            args += [score, b"member-%s-%d" % (words[m], i % 1000)]
        buf.append(resp(*args))
        flush()
    flush(True)


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
    persist = {}
    persist_errors = []
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
            elif typ in ("psave", "pbgsave"):
                _, kind, trial, ms, ticks, status = parts
                if status == "ok":
                    persist.setdefault(typ[1:], {}).setdefault(kind, []).append((float(ms), int(ticks)))
                else:
                    persist_errors.append("%s %s: %s" % (typ[1:], kind, status))
            elif typ == "pload":
                _, kind, trial, ms, loaded, status = parts
                if status == "ok":
                    persist.setdefault("load", {}).setdefault(kind, []).append(
                        (float(ms), float(loaded) if loaded else None))
                else:
                    persist_errors.append("load %s: %s" % (kind, status))
            elif typ == "psize":
                _, kind, size = parts
                persist.setdefault("size", {})[kind] = int(size) if size else None
            elif typ == "pbench":
                _, kind, mode, rps, ticks, reqs, wall, saves, status = parts
                if status == "ok":
                    persist.setdefault("bench", {}).setdefault(mode, {})[kind] = {
                        "ops_per_sec": float(rps), "cpu_ticks": int(ticks), "requests": int(reqs),
                        "wall_seconds": float(wall), "bgsaves_started": int(saves)}
                else:
                    persist_errors.append("SET P16 %s %s: %s" % (mode, kind, status))

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

    persistence = None
    if persist:
        def med(xs):
            xs = [x for x in xs if x is not None]
            return statistics.median(xs) if xs else None

        persistence = {"keys": int(os.environ.get("BENCH_PERSIST_KEYS", "0")), "errors": persist_errors}
        for op in ("save", "bgsave"):
            if op in persist:
                d = {}
                for kind in ("redis", "cinnabar"):
                    t = persist[op].get(kind, [])
                    d[kind] = {"ms_median": rnd(med([x[0] for x in t]), 1),
                               "cpu_seconds_median": rnd(med([x[1] / clk for x in t]), 3),
                               "trials_ms": [x[0] for x in t]}
                d["ratio"] = ratio(d["cinnabar"]["ms_median"], d["redis"]["ms_median"])
                d["cpu_ratio"] = ratio(d["cinnabar"]["cpu_seconds_median"], d["redis"]["cpu_seconds_median"])
                persistence[op] = d
        if "load" in persist:
            d = {}
            for kind in ("redis", "cinnabar"):
                t = persist["load"].get(kind, [])
                d[kind] = {"pong_ms_median": rnd(med([x[0] for x in t]), 1),
                           "logged_load_s_median": rnd(med([x[1] for x in t]), 3),
                           "trials_pong_ms": [x[0] for x in t]}
            d["ratio"] = ratio(d["cinnabar"]["pong_ms_median"], d["redis"]["pong_ms_median"])
            d["logged_ratio"] = ratio(d["cinnabar"]["logged_load_s_median"], d["redis"]["logged_load_s_median"])
            persistence["load"] = d
        if "size" in persist:
            sz = persist["size"]
            persistence["rdb_bytes"] = {"redis": sz.get("redis"), "cinnabar": sz.get("cinnabar"),
                                        "ratio": ratio(sz.get("cinnabar"), sz.get("redis"))}
        if "bench" in persist:
            b = persist["bench"]
            d = {}
            for kind in ("redis", "cinnabar"):
                idle = b.get("idle", {}).get(kind)
                bg = b.get("bgsave", {}).get(kind)
                d[kind] = {"idle": idle, "bgsave": bg,
                           "bgsave_vs_idle": ratio(bg["ops_per_sec"], idle["ops_per_sec"]) if idle and bg else None}
            for mode in ("idle", "bgsave"):
                r, c = b.get(mode, {}).get("redis"), b.get(mode, {}).get("cinnabar")
                d[mode + "_ratio"] = ratio(c["ops_per_sec"], r["ops_per_sec"]) if r and c else None
            persistence["set_p16"] = d

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

    doc = {"meta": meta, "throughput": throughput, "memory": memory, "startup": startup,
           "persistence": persistence}
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
    if persistence:
        p = persistence
        print()
        print("persistence (%d keys: 70%% strings ~100 B, 10%% each small hashes, lists, zsets; medians):"
              % p["keys"])
        hdr = ["what", "redis", "cinnabar", "ratio", "redis cpu", "cinnabar cpu", "ratio"]
        rows = []

        def secs(ms):
            return "n/a" if ms is None else "%.3f s" % (ms / 1000.0)

        def cpu(v):
            return "n/a" if v is None else "%.2f s" % v
        for op, label in (("save", "SAVE"), ("bgsave", "BGSAVE (until rdb_bgsave_in_progress:0)")):
            if op in p:
                d = p[op]
                rows.append([label, secs(d["redis"]["ms_median"]), secs(d["cinnabar"]["ms_median"]), fmt_ratio(d["ratio"]),
                             cpu(d["redis"]["cpu_seconds_median"]), cpu(d["cinnabar"]["cpu_seconds_median"]),
                             fmt_ratio(d["cpu_ratio"])])
        if "load" in p:
            d = p["load"]
            rows.append(["load: start to first PONG", secs(d["redis"]["pong_ms_median"]), secs(d["cinnabar"]["pong_ms_median"]),
                         fmt_ratio(d["ratio"]), "", "", ""])
            lr, lc = d["redis"]["logged_load_s_median"], d["cinnabar"]["logged_load_s_median"]
            rows.append(["load: 'DB loaded from disk' (logged)", "n/a" if lr is None else "%.3f s" % lr,
                         "n/a" if lc is None else "%.3f s" % lc, fmt_ratio(d["logged_ratio"]), "", "", ""])
        if "rdb_bytes" in p:
            d = p["rdb_bytes"]

            def mb(v):
                return "n/a" if v is None else "%.1f MB" % (v / 1e6)
            rows.append(["dump.rdb size", mb(d["redis"]), mb(d["cinnabar"]), fmt_ratio(d["ratio"]), "", "", ""])
        if "set_p16" in p:
            d = p["set_p16"]
            for mode, label in (("idle", "SET P16 ops/s, no save running"), ("bgsave", "SET P16 ops/s, BGSAVE running")):
                r, c = d["redis"][mode], d["cinnabar"][mode]
                rows.append([label, fmt_num(r and r["ops_per_sec"], ",.0f"), fmt_num(c and c["ops_per_sec"], ",.0f"),
                             fmt_ratio(d[mode + "_ratio"]), "", "", ""])
            rows.append(["SET P16 during BGSAVE vs none", fmt_ratio(d["redis"]["bgsave_vs_idle"]),
                         fmt_ratio(d["cinnabar"]["bgsave_vs_idle"]), "", "", "", ""])
        widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
        print(" | ".join([hdr[0].ljust(widths[0])] + [h.rjust(w) for h, w in zip(hdr[1:], widths[1:])]))
        print("-+-".join("-" * w for w in widths))
        for row in rows:
            print(" | ".join([str(row[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(row[1:], widths[1:])]))
        print("time ratios: cinnabar / redis, lower is better; ops/s ratios: higher is better."
              " CPU includes Redis's fork child.")
        for e in p["errors"]:
            print("persistence: " + e)
    print()
    print("JSON written to %s" % out_path)


def main(argv):
    if len(argv) >= 2 and argv[1] == "gen" and len(argv) == 4:
        gen(int(argv[2]), int(argv[3]))
    elif len(argv) >= 2 and argv[1] == "gen-mixed" and len(argv) == 3:
        gen_mixed(int(argv[2]))
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
