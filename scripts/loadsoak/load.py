"""The load test of scripts/load.sh: `wrk` against /health and GET /api/files for
SECONDS while two scan jobs run, on loopback. See scripts/load.sh and the "Load and
soak" section of docs/reliability.md.

    python3 -B load.py BIN SHOWN_BIN WORKDIR PIDFILE SECONDS
"""

import math
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Daemon, Failed, Harness, HealthWatch, Media, OutOfTime, check_tools, cpu_seconds, fmt_statuses,  # noqa: E402
                    install_signals, log, machine, machine_cpu_busy, parse_wrk, prefill, proc_status,
                    fd_kinds, wrk_cmd, wrk_problems)

WORKERS = 2          # VPO_JOBS_WORKERS: both scans run at once, sharing 2 ffprobe slots
CONNS = 20           # wrk -c per endpoint
CATALOGUE = 300      # files catalogued before the measurement, so that a page has 100
SAFETY = 1.6         # scan trees are sized for SAFETY x the window at the calibrated rate
FILES_PATH = "/api/files?limit=100"


def main(binary, shown_bin, work, pidfile, seconds):
    t_begin = time.monotonic()
    check_tools("ffmpeg", "ffprobe", "wrk")
    info = machine(binary)
    h = Harness(pidfile)
    try:
        return run(h, binary, shown_bin, work, seconds, info, t_begin)
    finally:
        h.stop_all()


def run(h, binary, shown_bin, work, seconds, info, t_begin):
    log("encoding the test video and timing ffprobe")
    media = Media(work)
    t_probe = media.probe_seconds()
    # Each scan gets about one ffprobe slot, so it probes about 1/t_probe files a second
    # (less while wrk competes for the CPU). Size both trees for SAFETY x (window + the
    # time from submission to the start of wrk).
    per_tree = max(200, min(50000, math.ceil(SAFETY * (seconds + 10) / t_probe)))
    lib = os.path.join(work, "library")
    log(f"writing 2 x {per_tree} + {CATALOGUE} real .mkv files ({media.size} bytes each)")
    trees = [os.path.join(lib, "scan-a"), os.path.join(lib, "scan-b")]
    for t in trees:
        media.tree(t, per_tree)
    catalogue = os.path.join(lib, "catalogue")
    media.tree(catalogue, CATALOGUE)

    home = os.path.join(work, "home")
    logpath = os.path.join(work, "vpo.log")
    fake = media.fake_ffprobe(os.path.join(work, "fake-ffprobe"))
    log(f"pre-filling the catalogue with {CATALOGUE} files (fake ffprobe)")
    prefill(h, binary, home, logpath, catalogue, WORKERS, fake)
    with open(logpath, "a") as f:
        f.write("--- load test daemon ---\n")
    log_offset = os.path.getsize(logpath)

    d = Daemon(h, binary, home, logpath, {"VPO_FFPROBE_PATH": sh_which("ffprobe"),
                                          "VPO_JOBS_WORKERS": str(WORKERS),
                                          "VPO_SERVER_SHUTDOWN_TIMEOUT": "10"})
    d.start()
    log(f"vpo pid {d.pid} on {d.base}; submitting two scans")
    code, doc = d.get(FILES_PATH)
    if code != 200 or len(doc.get("files", [])) != 100:
        raise Failed(f"GET {FILES_PATH} before the load: HTTP {code}, {len((doc or {}).get('files', []))} files (want 100)")
    jobs = [d.submit_scan(t) for t in trees]
    deadline = time.monotonic() + 20
    while True:
        states = [d.job(j) for j in jobs]
        if all(s["state"] == "running" and s["progress"]["found"] > 0 for s in states):
            break
        if any(s["state"] not in ("queued", "running") for s in states) or time.monotonic() > deadline:
            raise Failed("the scans did not both start: " + "; ".join(f"job {s['id']} {s['state']} {s['progress']}" for s in states))
        time.sleep(0.05)
    before = {j: d.job(j) for j in jobs}
    st0 = proc_status(d.pid)
    cpu0, busy0, own0 = cpu_seconds(d.pid), machine_cpu_busy(), os.times()

    urls = {"/health": f"{d.base}/health", FILES_PATH: f"{d.base}{FILES_PATH}"}
    cmds = {k: wrk_cmd(u, CONNS, seconds) for k, u in urls.items()}
    watch = HealthWatch(d.port)
    watch.start()
    log(f"wrk for {seconds} s on /health and {FILES_PATH} ({CONNS} connections each)")
    procs = {k: h.popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
             for k, c in cmds.items()}
    outs = {}
    readers = []
    for k, p in procs.items():
        def reader(k=k, p=p):
            outs[k] = p.stdout.read().decode(errors="replace")
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        readers.append(t)

    # While wrk runs: every second, the daemon is alive and the jobs' progress.
    timeline = []
    t0 = time.monotonic()
    died = None
    while any(p.poll() is None for p in procs.values()):
        if not d.alive() and died is None:
            died = time.monotonic() - t0
        if d.alive():
            try:
                row = [round(time.monotonic() - t0, 1)]
                for j in jobs:
                    v = d.job(j)
                    row.append((v["state"], v["progress"]["probed"] + v["progress"]["failed"]))
                st = proc_status(d.pid)
                row.append(st["VmRSS"])
                row.append(st["Threads"])
                timeline.append(row)
            except (OSError, Failed) as e:
                timeline.append([round(time.monotonic() - t0, 1), f"poll failed: {e}"])
        if time.monotonic() - t0 > seconds + 30:
            raise Failed("wrk did not finish 30 s after its duration")
        time.sleep(1.0)
    window = time.monotonic() - t0
    watch.stop()
    for t in readers:
        t.join(10)
    for p in procs.values():
        h.forget(p)

    # Right after wrk: the state of everything.
    alive_after = d.alive()
    after = {}
    health_after = None
    if alive_after:
        after = {j: d.job(j) for j in jobs}
        health_after = d.get("/health")
        st1 = proc_status(d.pid)
        fds = fd_kinds(d.pid)
        cpu1 = cpu_seconds(d.pid)
    busy1, own1 = machine_cpu_busy(), os.times()

    # Stop the scans (cancel), then the daemon.
    final = {}
    if alive_after:
        for j in jobs:
            if after[j]["state"] == "running":
                d.request("POST", f"/api/jobs/{j}/cancel")
        for j in jobs:
            final[j] = d.wait_job(j, ("completed", "failed", "cancelled"), 15)
    rc, stop_s = d.stop() if d.alive() else (d.p.returncode, 0.0)
    with open(logpath, errors="replace") as f:
        f.seek(log_offset)
        problems = [l.rstrip() for l in f if l.strip() and "level=INFO" not in l and "level=DEBUG" not in l]

    # --- report ---
    res = {k: parse_wrk(outs.get(k, "")) for k in cmds}
    fails = []
    for k, r in res.items():
        for p in wrk_problems(r):
            fails.append(f"wrk {k}: {p}")
        if procs[k].returncode != 0:
            fails.append(f"wrk {k} exited with status {procs[k].returncode}")
    if not alive_after or died is not None:
        fails.append(f"vpo died during the load (status {d.p.returncode}); log tail:\n{d.tail()}")
    elif health_after[0] != 200:
        fails.append(f"GET /health after the load: HTTP {health_after[0]} {health_after[1]}")
    not_running = [j for j in jobs if after.get(j, {}).get("state") != "running"]
    if alive_after and not_running:
        fails.append("scan(s) " + ", ".join(f"{j} ({after[j]['state']})" for j in not_running) +
                     " were no longer running when wrk ended: the load did not overlap two scans for the whole window")
    if rc != 0:
        fails.append(f"vpo exited with status {rc} after SIGTERM (want 0)")
    panics = [l for l in problems if "panic" in l.lower() or "fatal" in l.lower()]
    if panics:
        fails.append(f"panic/fatal lines in the daemon log: {panics[:3]}")

    print("vpo load test")
    print("=============")
    print()
    print("Machine")
    for k, v in info:
        print(f"  {k:8} {v}")
    print()
    print("Setup")
    print(f"  daemon   env -i PATH HOME=<tmp> LANG=C.UTF-8 TZ=UTC VPO_FFPROBE_PATH={sh_which('ffprobe')} VPO_JOBS_WORKERS={WORKERS}")
    print(f"           VPO_SERVER_SHUTDOWN_TIMEOUT=10 {shown_bin} serve --bind 127.0.0.1 --port <random>")
    print(f"  library  {CATALOGUE} files catalogued beforehand (fake ffprobe, not measured); two scan trees of {per_tree}")
    print(f"           distinct real .mkv files ({media.size} bytes, 1 s 160x120) each, probed by the real ffprobe")
    print(f"           ({t_probe * 1000:.0f} ms per ffprobe run at calibration; trees sized for {SAFETY}x the window)")
    for k, c in cmds.items():
        print(f"  wrk      {' '.join(c).replace(d.base, 'http://127.0.0.1:PORT').replace(os.path.dirname(c[-2]), 'scripts/loadsoak')}")
    print(f"           (both at once, for {seconds} s; wrk's default 2 s timeout)")
    print()
    print(f"Results ({window:.1f} s window)")
    hdr = ("endpoint", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses", "non-2xx", "socket errors")
    rows = []
    for k, r in res.items():
        f = lambda v, p=2: "?" if v is None else f"{v:.{p}f}"
        rows.append((k, f"{r['requests']:,}" if r["requests"] is not None else "?", f(r["rps"], 0), f(r["p50"]),
                     f(r["p90"]), f(r["p99"]), f(r["max"]), fmt_statuses(r["statuses"]),
                     str(r["non2xx"] + 0), r["sockerr_text"]))
    table(hdr, rows)
    print()
    print("/health seen by a separate poller (a new connection every 100 ms) during the window:")
    for l in watch.report():
        print(l)
    print()
    print("Scans (probed+failed files; state when wrk started -> when it ended -> after cancel)")
    for j in jobs:
        b, a, fi = before[j], after.get(j), final.get(j)
        done_b = b["progress"]["probed"] + b["progress"]["failed"]
        line = f"  job {j} {b['path']}: {b['state']} ({done_b}/{per_tree})"
        if a:
            done_a = a["progress"]["probed"] + a["progress"]["failed"]
            line += f" -> {a['state']} ({done_a}/{per_tree}, {(done_a - done_b) / window:.1f} files/s during the load)"
        if fi:
            line += f" -> {fi['state']}"
        print(line)
    if alive_after:
        vpo_self = (cpu1[0] - cpu0[0]) / window * 100
        vpo_kids = (cpu1[1] - cpu0[1]) / window * 100
        wrk_cpu = (own1.children_user + own1.children_system - own0.children_user - own0.children_system) / window * 100
        mine = (own1.user + own1.system - own0.user - own0.system) / window * 100
        other = max(0.0, (busy1[1] - busy0[1]) / window * 100 - vpo_self - vpo_kids - wrk_cpu - mine)
        print()
        print("Daemon")
        print(f"  VmRSS {st0['VmRSS'] / 1024:.1f} -> {st1['VmRSS'] / 1024:.1f} MiB (VmHWM {st1['VmHWM'] / 1024:.1f}), "
              f"threads {st0['Threads']} -> {st1['Threads']}, open fds after {sum(fds.values())} ({fmt_kinds(fds)})")
        print(f"  CPU, % of one core ({info[1][1]} cores): vpo {vpo_self:.0f}%, its ffprobe runs {vpo_kids:.0f}%, "
              f"wrk {wrk_cpu:.0f}%, this harness {mine:.0f}%, other processes {other:.0f}%")
        print(f"  SIGTERM -> exit {stop_s * 1000:.0f} ms, status {rc}; daemon log lines above INFO during the run: {len(problems)}")
        for l in problems[:8]:
            print(f"    {l[:220]}")
    print()
    print("Timeline (s since wrk started: job A state/files done, job B state/files done, VmRSS KiB, threads)")
    step = max(1, len(timeline) // 12)
    for row in timeline[::step] + ([timeline[-1]] if timeline and (len(timeline) - 1) % step else []):
        print(f"  {row}")
    for k in cmds:
        print()
        print(f"  $ wrk ... {k}")
        for l in outs.get(k, "").rstrip().splitlines():
            print(f"    {l}")
    print()
    print(f"(load test took {time.monotonic() - t_begin:.0f} s)")
    if fails:
        print("VERDICT: FAIL")
        for f in fails:
            print(f"  - {f}")
        return 1
    print(f"VERDICT: PASS (no socket errors, every response 2xx, both scans running throughout, clean exit)")
    return 0


def fmt_kinds(k):
    return ", ".join(f"{n} {kind}" for kind, n in k.items() if n)


def table(hdr, rows):
    widths = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    line = lambda r: "  " + " | ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip()
    print(line(hdr))
    print("  " + "-+-".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def sh_which(name):
    import shutil
    p = shutil.which(name)
    if p is None:
        raise Failed(f"{name} is not installed")
    return p


if __name__ == "__main__":
    binary, shown, work, pidfile, secs = sys.argv[1:6]
    seconds = int(secs)
    install_signals(seconds + 300)
    try:
        rc = main(binary, shown, work, pidfile, seconds)
    except Failed as e:
        print(f"load: FAIL: {e}", file=sys.stderr)
        print("VERDICT: FAIL")
        rc = 1
    except OutOfTime as e:
        print(f"load: FAIL: {e}", file=sys.stderr)
        print("VERDICT: FAIL")
        rc = 1
    finally:
        import signal as _s
        _s.alarm(0)
    sys.stdout.flush()
    sys.exit(rc)
