"""The soak test of scripts/soak.sh: SECONDS of periodic scans and steady API traffic
against one `vpo serve` on loopback, sampling its RSS, threads, goroutines and open
file descriptors, then a least-squares trend of each after a warm-up. See
scripts/soak.sh and the "Load and soak" section of docs/reliability.md.

    python3 -B soak.py BIN SHOWN_BIN WORKDIR PIDFILE SECONDS CSV
"""

import csv
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Client, Daemon, Failed, Harness, Media, OutOfTime, check_tools, cpu_seconds,  # noqa: E402
                    fd_kinds, fmt_statuses, install_signals, log, machine, parse_wrk, prefill, proc_status,
                    slope, slope_stderr, wrk_cmd, wrk_problems)

WORKERS = 2
LIB_FILES = 1000      # files in the scanned library (10 directories of 100)
MUTATE_N = 10         # files touched, removed and added at each mutation
CLIENT_PERIOD = 0.05  # s between the steady client's requests (about 20 requests/s)
# LOADSOAK_SELFTEST_LEAK=1 makes this harness open one keep-alive connection to the
# daemon per sample, make one request on it and keep it idle (vpo closes idle
# connections after 120 s): the daemon's fds and goroutines then grow, and a soak of
# up to 2 minutes must fail. It shows that the trend check catches a leak.
SELFTEST_LEAK = os.environ.get("LOADSOAK_SELFTEST_LEAK") == "1"
WARMUP = 0.2          # share of the samples (by time) left out of the trend
WARM_CONNS = 16       # wrk -c of the warm-up burst at the start
READS = 3             # fds and goroutines: the floor of READS reads 20 ms apart per sample

# The daemon's SQLite pools: catalog.maxOpenConns (8) plus the health probe's one
# connection, each holding the database and its WAL open, plus one -shm for all. The
# pools grow with peak concurrency and drop a connection when a request is cancelled
# mid-query, so their fds move by 2 at a time but stay within this bound.
DB_FDS_MAX = 2 * (8 + 1) + 1

# Thresholds on the growth projected over the measured (post-warm-up) window, from
# the least-squares slope: growth = slope x window. A metric fails when its projected
# growth exceeds the limit.
def limits(mean_rss_kib):
    return {
        "rss_kib": min(5 * 1024, 0.10 * mean_rss_kib),  # more than 10% or more than 5 MiB fails
        "fds_other": 2.0,
        "goroutines": 3.0,
        "threads": 5.0,
    }


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


class Traffic(threading.Thread):
    """Steady API traffic, about 1/CLIENT_PERIOD requests a second over keep-alive
    connections (a new one every 200 requests), cycling through /health, pages of
    /api/files (following next_cursor through the whole catalogue), single files,
    the job list and single jobs."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.c = Client(port)
        self.stop_ev = threading.Event()
        self.cursor = None
        self.file_ids = []
        self.job_ids = []
        self.pages = 0

    def run(self):
        rnd = random.Random(7)
        i = 0
        while not self.stop_ev.wait(CLIENT_PERIOD):
            i += 1
            if i % 200 == 0:
                self.c.close()
            k = i % 6
            if k == 0:
                self.c.get("/health")
            elif k in (1, 4):
                path = "/api/files?limit=100" + (f"&cursor={self.cursor}" if self.cursor else "")
                _, doc = self.c.get(path)
                if doc is not None:
                    self.pages += 1
                    self.cursor = doc.get("next_cursor") or None
                    ids = [f["id"] for f in doc.get("files", [])]
                    if ids:
                        self.file_ids = ids
            elif k == 2:
                if self.file_ids:
                    self.c.get(f"/api/files/{rnd.choice(self.file_ids)}")
            elif k == 3:
                _, doc = self.c.get("/api/jobs?limit=10")
                if doc is not None:
                    self.job_ids = [j["id"] for j in doc.get("jobs", [])]
            elif k == 5:
                if self.job_ids:
                    self.c.get(f"/api/jobs/{rnd.choice(self.job_ids)}")
        self.c.close()

    def stop(self):
        self.stop_ev.set()
        self.join(15)


class Library:
    """The scanned tree and its mutations: touch (new mtime: reprobed), remove
    (marked missing), add (new names, or earlier removed names that reappear)."""

    def __init__(self, media, root, n):
        self.media, self.root = media, root
        self.present = media.tree(root, n)
        self.removed = []
        self.rnd = random.Random(42)
        self.next = n
        self.mutations = 0

    def mutate(self):
        self.mutations += 1
        now = time.time()
        for p in self.rnd.sample(self.present, MUTATE_N):
            os.utime(p, (now, now))
        gone = self.rnd.sample(self.present, MUTATE_N)
        for p in gone:
            os.remove(p)
            self.present.remove(p)
        back = []
        if self.mutations % 2 == 0 and len(self.removed) >= MUTATE_N:
            back = self.rnd.sample(self.removed, MUTATE_N // 2)
            for p in back:
                self.removed.remove(p)
        new = [os.path.join(self.root, f"d{self.rnd.randrange(10):03d}", f"n{self.next + i:05d}.mkv")
               for i in range(MUTATE_N - len(back))]
        self.next += len(new)
        for p in back + new:
            self.media.write(p)
            self.present.append(p)
        self.removed.extend(gone)


def sample(d, t0, db):
    """One sample of the daemon."""
    st = proc_status(d.pid)
    fds, gor, health = None, None, None
    kinds = None
    for i in range(READS):
        if i:
            time.sleep(0.02)
        k = fd_kinds(d.pid, db)
        n = sum(k.values()) - k["db"]
        if fds is None or n < fds:
            fds, kinds = n, k
        code, doc = d.get("/health", timeout=5)
        health = code if health in (None, 200) else health
        g = doc.get("goroutines") if isinstance(doc, dict) else None
        if isinstance(g, int):
            gor = g if gor is None else min(gor, g)
    own, kids = cpu_seconds(d.pid)
    return {"t_s": round(time.monotonic() - t0, 1), "rss_kib": st["VmRSS"], "hwm_kib": st["VmHWM"],
            "threads": st["Threads"], "goroutines": gor, "fds": fds + kinds["db"], "fds_other": fds,
            "fd_db": kinds["db"], "fd_socket": kinds["socket"], "fd_pipe": kinds["pipe"], "fd_anon": kinds["anon"],
            "fd_file": kinds["file"],
            "health": health, "cpu_s": round(own, 2), "ffprobe_cpu_s": round(kids, 2)}


def main(binary, shown_bin, work, pidfile, seconds, csv_path):
    t_begin = time.monotonic()
    check_tools("ffmpeg", "ffprobe", "wrk")
    info = machine(binary)
    h = Harness(pidfile)
    try:
        return run(h, binary, shown_bin, work, seconds, csv_path, info, t_begin)
    finally:
        h.stop_all()


def run(h, binary, shown_bin, work, seconds, csv_path, info, t_begin):
    every_sample = clamp(seconds / 60, 1, 10)
    every_scan = clamp(seconds / 20, 3, 30)
    every_mutate = clamp(seconds / 10, 6, 60)
    burst = clamp(every_scan / 10, 1, 3)
    burst_paths = ["/api/files?limit=100", "/health", "/api/jobs?limit=20"]

    log("encoding the test video")
    media = Media(work)
    root = os.path.join(work, "library")
    lib = Library(media, root, LIB_FILES)
    home = os.path.join(work, "home")
    logpath = os.path.join(work, "vpo.log")
    fake = media.fake_ffprobe(os.path.join(work, "fake-ffprobe"))
    log(f"pre-filling the catalogue with the {LIB_FILES}-file library (fake ffprobe)")
    prefill(h, binary, home, logpath, root, WORKERS, fake)
    with open(logpath, "a") as f:
        f.write("--- soak daemon ---\n")
    log_offset = os.path.getsize(logpath)

    ffprobe = shutil.which("ffprobe")
    db_path = os.path.realpath(os.path.join(home, ".vpo", "library.db"))
    d = Daemon(h, binary, home, logpath, {"VPO_FFPROBE_PATH": ffprobe, "VPO_JOBS_WORKERS": str(WORKERS),
                                          "VPO_SERVER_SHUTDOWN_TIMEOUT": "10"})
    d.start()
    log(f"vpo pid {d.pid} on {d.base}; soaking for {seconds} s (samples every {every_sample:g} s, scans every "
        f"{every_scan:g} s, mutations every {every_mutate:g} s, wrk bursts of {burst:g} s)")
    traffic = Traffic(d.port)
    traffic.start()

    t0 = time.monotonic()
    samples = []
    leaked = []
    scans = []          # (job id, submitted at)
    skipped = 0
    bursts = []         # parsed wrk results
    burst_fail = []
    next_sample, next_scan, next_mutate = 0.0, 0.0, every_mutate
    next_burst = every_scan / 2
    burst_i = 0
    current = None
    # Warm-up burst: enough concurrent requests to open every connection of the
    # daemon's database pool (2 fds each) and the threads that peak load needs, so that
    # the pool filling up later is not mistaken for growth.
    wrk_p = (h.popen(wrk_cmd(d.base + "/api/files?limit=100", WARM_CONNS, 2), stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), "/api/files?limit=100 (warm-up)")
    try:
        while True:
            now = time.monotonic() - t0
            d.check_alive()
            if wrk_p is not None and wrk_p[0].poll() is not None:
                p, path = wrk_p
                out = p.stdout.read().decode(errors="replace")
                h.forget(p)
                r = parse_wrk(out)
                r["path"] = path
                bursts.append(r)
                for why in wrk_problems(r):
                    burst_fail.append(f"wrk burst on {path} at {now:.0f} s: {why}")
                if p.returncode != 0:
                    burst_fail.append(f"wrk burst on {path} exited with status {p.returncode}: {out[-300:]}")
                wrk_p = None
            # Samples are taken between wrk bursts and, if it ends within 80% of the
            # sampling interval, after the running scan: leaked goroutines and fds stay,
            # while those of a request or an ffprobe run in flight come and go.
            busy = None
            if now >= next_sample and wrk_p is None:
                busy = current is not None and d.job(current)["state"] in ("queued", "running")
            if busy is not None and (not busy or now - next_sample >= 0.8 * every_sample):
                if SELFTEST_LEAK:  # a fake leak: one more idle keep-alive connection per sample
                    so = socket.create_connection(("127.0.0.1", d.port))
                    so.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    so.recv(65536)
                    leaked.append(so)
                smp = sample(d, t0, db_path)
                smp["scan_running"] = int(busy)
                samples.append(smp)
                # After a late sample, the next one at least half an interval later.
                next_sample = max(next_sample + every_sample, time.monotonic() - t0 + every_sample / 2)
                if now >= seconds:
                    break
            if now >= next_scan and now < seconds:
                next_scan += every_scan
                if current is not None and d.job(current)["state"] in ("queued", "running"):
                    skipped += 1
                else:
                    current = d.submit_scan(root)
                    scans.append((current, now))
            if now >= next_mutate and now < seconds:
                next_mutate += every_mutate
                lib.mutate()
            if now >= next_burst and wrk_p is None and now + burst < seconds and now < next_sample:
                next_burst += every_scan
                path = burst_paths[burst_i % len(burst_paths)]
                burst_i += 1
                p = h.popen(wrk_cmd(d.base + path, 4, int(burst)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                wrk_p = (p, path)
            time.sleep(0.05)
    finally:
        traffic.stop()
        if wrk_p is not None:
            wrk_p[0].wait(15)
            h.forget(wrk_p[0])
    window = time.monotonic() - t0
    for so in leaked:
        so.close()

    # The scans: every one finished cleanly (the last may still be running: cancel it).
    states = {}
    for jid, _ in scans:
        j = d.job(jid)
        if j["state"] in ("queued", "running"):
            d.request("POST", f"/api/jobs/{jid}/cancel")
            j = d.wait_job(jid, ("completed", "failed", "cancelled"), 15)
            j["cancelled_at_end"] = True
        states[jid] = j
    code_after, _ = d.get("/health")
    rc, stop_s = d.stop()
    with open(logpath, errors="replace") as f:
        f.seek(log_offset)
        problems = [l.rstrip() for l in f if l.strip() and "level=INFO" not in l and "level=DEBUG" not in l]

    # --- CSV ---
    cols = list(samples[0].keys())
    os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for s in samples:
            w.writerow(s)

    # --- trend ---
    cut = WARMUP * seconds
    post = [s for s in samples if s["t_s"] >= cut]
    span = post[-1]["t_s"] - post[0]["t_s"] if len(post) > 1 else 0.0
    db_max = max(s["fd_db"] for s in samples)
    have_gor = all(isinstance(s["goroutines"], int) for s in post)
    lim = limits(sum(s["rss_kib"] for s in post) / len(post))
    quiet = [s for s in post if not s["scan_running"]]
    trend = {}
    for m in ("rss_kib", "threads", "goroutines", "fds_other", "fds"):
        if m == "goroutines" and not have_gor:
            continue
        # Goroutines and fds: the samples taken with no scan running, when they are at
        # least half (a leak stays in them; an ffprobe run in flight does not).
        use = quiet if m in ("goroutines", "fds_other", "fds") and len(quiet) * 2 >= len(post) else post
        xs = [s["t_s"] for s in use]
        ys = [s[m] for s in use]
        sl = slope(xs, ys)
        se = slope_stderr(xs, ys)
        trend[m] = {"stderr": se * span, "first": ys[0], "last": ys[-1], "min": min(ys), "max": max(ys), "mean": sum(ys) / len(ys),
                    "slope_per_min": sl * 60, "growth": sl * span, "limit": lim.get(m), "n": len(use)}
        trend[m]["ok"] = trend[m]["growth"] <= lim[m] if m in lim else None

    growth = []
    for m, t in trend.items():
        if t["ok"] is False:
            growth.append(f"{m} grows {t['growth']:+.1f} over the {span:.0f} s after warm-up (limit {t['limit']:.1f})")
    if db_max > DB_FDS_MAX:
        growth.append(f"{db_max} fds on the database files (more than the pools allow: {DB_FDS_MAX})")
    fails = []
    c = traffic.c
    if c.errors:
        fails.append(f"{len(c.errors)} of {c.requests} steady API requests failed, first: {c.errors[:3]}")
    fails += burst_fail
    bad_health = [s for s in samples if s["health"] != 200]
    if bad_health:
        fails.append(f"{len(bad_health)} samples saw /health not 200: {[(s['t_s'], s['health']) for s in bad_health[:5]]}")
    bad_scans = [j for j in states.values() if j["state"] != "completed" and not j.get("cancelled_at_end")]
    if bad_scans:
        fails.append(f"{len(bad_scans)} scans did not complete: {[(j['id'], j['state'], j['errors']) for j in bad_scans[:3]]}")
    completed = [j for j in states.values() if j["state"] == "completed"]
    if len(completed) < 3:
        fails.append(f"only {len(completed)} scans completed")
    if code_after != 200:
        fails.append(f"GET /health after the soak: HTTP {code_after}")
    if rc != 0:
        fails.append(f"vpo exited with status {rc} after SIGTERM (want 0)")
    panics = [l for l in problems if "panic" in l.lower() or "fatal" in l.lower()]
    if panics:
        fails.append(f"panic/fatal lines in the daemon log: {panics[:3]}")

    # --- report ---
    print("vpo soak test")
    print("=============")
    print()
    print("Machine")
    for k, v in info:
        print(f"  {k:8} {v}")
    print()
    print("Setup")
    print(f"  daemon    env -i PATH HOME=<tmp> LANG=C.UTF-8 TZ=UTC VPO_FFPROBE_PATH={ffprobe} VPO_JOBS_WORKERS={WORKERS}")
    print(f"            VPO_SERVER_SHUTDOWN_TIMEOUT=10 {shown_bin} serve --bind 127.0.0.1 --port <random>")
    print(f"  library   {LIB_FILES} distinct real .mkv files ({media.size} bytes) in 10 directories, catalogued beforehand")
    print(f"            with a fake ffprobe (not measured); the soak daemon uses the real ffprobe")
    print(f"  scans     a scan job of the library every {every_scan:g} s (skipped while the previous one runs)")
    print(f"  mutations every {every_mutate:g} s: touch {MUTATE_N} files (reprobed), remove {MUTATE_N} (missing), add {MUTATE_N}")
    print(f"            (every other time half of them earlier removed names that reappear)")
    print(f"  traffic   ~{1 / CLIENT_PERIOD:.0f} requests/s from one keep-alive client (new connection every 200):")
    print(f"            /health, /api/files pages (cursor through the catalogue), /api/files/ID, /api/jobs, /api/jobs/ID;")
    print(f"            plus wrk -t1 -c4 -d{int(burst)}s every {every_scan:g} s, in turn on {', '.join(burst_paths)};")
    print(f"            at the start, wrk -t1 -c{WARM_CONNS} -d2s on /api/files?limit=100 (fills the database pool)")
    print(f"  samples   every {every_sample:g} s: VmRSS and Threads (/proc/PID/status), open fds (/proc/PID/fd) and")
    print(f"            goroutines (GET /health \"goroutines\"); fds and goroutines as the lowest of {READS} reads 20 ms apart")
    print(f"            (fds: the reading with the fewest fds other than the database's);")
    print(f"            a sample waits for the end of a wrk burst, and for the end of a running scan if that comes")
    print(f"            within 80% of the interval (the steady client goes on)")
    print(f"  trend     least-squares slope over the samples after the first {WARMUP:.0%} ({cut:.0f} s of warm-up; for goroutines")
    print(f"            and fds only those taken with no scan running, if they are at least half),")
    print(f"            projected over the {span:.0f} s measured; limits: RSS {lim['rss_kib'] / 1024:.1f} MiB "
          f"(10% or 5 MiB, the smaller), fds other than the")
    print(f"            database's {lim['fds_other']:g}, goroutines {lim['goroutines']:g}, threads {lim['threads']:g}; the database's fds "
          f"(pooled connections)")
    print(f"            must stay within the pools' bound of {DB_FDS_MAX}; total fds are shown, not judged")
    print()
    print(f"Samples ({len(samples)}; CSV: {csv_path})")
    hdr = ("t s", "RSS MiB", "HWM MiB", "threads", "goroutines", "fds (db/sock/pipe/anon/file)", "health", "vpo CPU s", "ffprobe CPU s")
    rows = [(f"{s['t_s']:.1f}" + ("" if s["t_s"] >= cut else " w") + (" s" if s["scan_running"] else ""), f"{s['rss_kib'] / 1024:.1f}", f"{s['hwm_kib'] / 1024:.1f}",
             s["threads"], s["goroutines"] if s["goroutines"] is not None else "n/a",
             f"{s['fds']} ({s['fd_db']}/{s['fd_socket']}/{s['fd_pipe']}/{s['fd_anon']}/{s['fd_file']})", s["health"],
             f"{s['cpu_s']:.1f}", f"{s['ffprobe_cpu_s']:.1f}") for s in samples]
    table(hdr, rows)
    print("  (w: warm-up, left out of the trend; s: taken while a scan ran, as none ended within 80% of the interval)")
    print()
    print("Trend after warm-up")
    hdr = ("metric", "samples", "first", "last", "min", "max", "mean", "slope /min", "projected growth (+- 1 s.e.)", "limit", "verdict")
    rows = []
    for m, t in trend.items():
        sc = 1024 if m == "rss_kib" else 1
        name = {"rss_kib": "RSS MiB", "fds_other": "fds (not db)", "fds": "fds (total)"}.get(m, m)
        rows.append((name, t["n"], f"{t['first'] / sc:.1f}", f"{t['last'] / sc:.1f}", f"{t['min'] / sc:.1f}", f"{t['max'] / sc:.1f}",
                     f"{t['mean'] / sc:.1f}", f"{t['slope_per_min'] / sc:+.3f}", f"{t['growth'] / sc:+.2f} (+- {t['stderr'] / sc:.2f})",
                     "-" if t["limit"] is None else f"{t['limit'] / sc:.1f}",
                     {True: "flat", False: "GROWS", None: "(shown)"}[t["ok"]]))
    table(hdr, rows)
    print(f"  database fds: at most {db_max} (bound {DB_FDS_MAX}); {'ok' if db_max <= DB_FDS_MAX else 'OVER'}")
    if not have_gor:
        print("  goroutines: not measured (this vpo's /health has no \"goroutines\" field)")
    print()
    print("Activity")
    n_done = len(completed)
    probed = sum(j["progress"]["probed"] for j in completed)
    missing = sum(j["progress"]["missing"] for j in completed)
    print(f"  scans: {len(scans)} submitted, {n_done} completed, {skipped} skipped (previous still running), "
          f"{sum(1 for j in states.values() if j.get('cancelled_at_end'))} cancelled at the end; "
          f"{probed} files probed, {missing} marked missing in total; {lib.mutations} mutations")
    print(f"  steady client: {c.requests} requests ({c.requests / window:.1f}/s), statuses {fmt_statuses(c.statuses)}, "
          f"{len(c.errors)} errors, {traffic.pages} pages of /api/files")
    if c.latencies:
        lat = sorted(c.latencies)
        print(f"                 latency p50 {lat[len(lat) // 2] * 1000:.1f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms")
    tot = sum(r["requests"] or 0 for r in bursts)
    st = {}
    for r in bursts:
        for k, n in r["statuses"].items():
            st[k] = st.get(k, 0) + n
    p99s = [r["p99"] for r in bursts if r["p99"] is not None]
    print(f"  wrk bursts: {len(bursts)}, {tot} requests, statuses {fmt_statuses(st)}, "
          f"{sum(r['sockerr'] for r in bursts)} socket errors, worst p99 {max(p99s) if p99s else float('nan'):.1f} ms")
    print(f"  SIGTERM -> exit {stop_s * 1000:.0f} ms, status {rc}; daemon log lines above INFO: {len(problems)}")
    for l in problems[:8]:
        print(f"    {l[:220]}")
    print()
    print(f"(soak took {time.monotonic() - t_begin:.0f} s)")
    print("trend:  " + ("FAIL" if growth else f"PASS (RSS, threads, {'goroutines, ' if have_gor else ''}fds flat after warm-up)"))
    for f in growth:
        print(f"  - {f}")
    print("errors: " + ("FAIL" if fails else "PASS (no failed request, every scan completed, /health 200, clean exit)"))
    for f in fails:
        print(f"  - {f}")
    if fails or growth:
        print("VERDICT: FAIL")
        return 1
    print("VERDICT: PASS")
    return 0


def table(hdr, rows):
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    line = lambda r: "  " + " | ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip()
    print(line(hdr))
    print("  " + "-+-".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


if __name__ == "__main__":
    binary, shown, work, pidfile, secs, csv_path = sys.argv[1:7]
    seconds = int(secs)
    install_signals(seconds + 300)
    try:
        rc = main(binary, shown, work, pidfile, seconds, csv_path)
    except (Failed, OutOfTime) as e:
        print(f"soak: FAIL: {e}", file=sys.stderr)
        print("VERDICT: FAIL")
        rc = 1
    finally:
        import signal as _s
        _s.alarm(0)
    sys.stdout.flush()
    sys.exit(rc)
