"""Shared helpers of scripts/load.sh and scripts/soak.sh (see load.py and soak.py).

Everything here talks to loopback only, starts processes only through Harness (which
records their PIDs so that the shell wrapper can stop them if the harness dies), and
needs nothing beyond the Python 3 standard library, ffmpeg, ffprobe and wrk.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STATUS_LUA = os.path.join(HERE, "status.lua")


class Failed(Exception):
    """A failure that ends the run with exit status 1 and this message."""


class OutOfTime(Exception):
    pass


def _on_alarm(signum, frame):
    raise OutOfTime("the run exceeded its time budget")


def _on_term(signum, frame):
    raise SystemExit(128 + signum)


def install_signals(budget_s):
    """SIGTERM/SIGINT end the run (the finally blocks stop the daemon); SIGALRM bounds it."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    signal.alarm(int(budget_s))


sys.stdout.reconfigure(line_buffering=True)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- processes ----------------------------------------------------------------------


class Harness:
    """Starts and stops child processes, recording "PID ARGV0" lines in pidfile."""

    def __init__(self, pidfile):
        self.pidfile = pidfile
        self.live = {}

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.live[p.pid] = p
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid} {argv[0]}\n")
        return p

    def forget(self, p):
        self.live.pop(p.pid, None)

    def stop_all(self):
        for pid, p in list(self.live.items()):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            self.live.pop(pid, None)


class Daemon:
    """One `vpo serve` on 127.0.0.1:<random port> with a private HOME."""

    def __init__(self, harness, binary, home, logpath, env_extra):
        self.h, self.bin, self.home, self.logpath = harness, binary, home, logpath
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
                    "LANG": "C.UTF-8", "TZ": "UTC"}
        self.env.update(env_extra)
        self.p = None
        self.port = None

    @property
    def pid(self):
        return self.p.pid

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=10.0):
        os.makedirs(self.home, exist_ok=True)
        self.port = free_port()
        logf = open(self.logpath, "ab")
        self.p = self.h.popen([self.bin, "serve", "--bind", "127.0.0.1", "--port", str(self.port)],
                              env=self.env, stdin=subprocess.DEVNULL, stdout=logf,
                              stderr=subprocess.STDOUT, close_fds=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                code, _ = self.get("/health", timeout=1)
                if code == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Failed(f"vpo did not answer GET /health 200 within {timeout} s; log tail:\n{self.tail()}")
            time.sleep(0.02)

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def check_alive(self):
        if not self.alive():
            raise Failed(f"vpo (pid {self.p.pid}) died with status {self.p.returncode}; log tail:\n{self.tail()}")

    def stop(self, timeout=40.0):
        """SIGTERM; returns (exit status or 'killed', seconds)."""
        if not self.alive():
            return self.p.returncode, 0.0
        t0 = time.monotonic()
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = "killed"
        self.h.forget(self.p)
        return rc, time.monotonic() - t0

    def tail(self, n=20):
        try:
            with open(self.logpath, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def log_problems(self):
        """Log lines at WARNING or above, and any panic/fatal output."""
        out = []
        try:
            with open(self.logpath, errors="replace") as f:
                for line in f:
                    if ("level=INFO" in line or "level=DEBUG" in line) and "panic" not in line:
                        continue
                    if line.strip():
                        out.append(line.rstrip())
        except OSError:
            pass
        return out

    # HTTP, one short-lived connection per call (use Client for keep-alive traffic).
    def request(self, method, path, body=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            c.request(method, path, body=json.dumps(body) if body is not None else None, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            try:
                doc = json.loads(data) if data else None
            except ValueError:
                doc = data.decode(errors="replace")
            return r.status, doc
        finally:
            c.close()

    def get(self, path, timeout=10):
        return self.request("GET", path, timeout=timeout)

    def submit_scan(self, path):
        code, doc = self.request("POST", "/api/jobs", {"type": "scan", "path": path})
        if code != 202:
            raise Failed(f"POST /api/jobs scan {path}: HTTP {code} {doc}")
        return doc["id"]

    def job(self, jid):
        code, doc = self.get(f"/api/jobs/{jid}")
        if code != 200:
            raise Failed(f"GET /api/jobs/{jid}: HTTP {code} {doc}")
        return doc

    def wait_job(self, jid, states, timeout):
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(jid)
            if j["state"] in states:
                return j
            if time.monotonic() > deadline:
                return j
            self.check_alive()
            time.sleep(0.1)


class Client:
    """A keep-alive HTTP/1.1 client that counts answers by status and transport errors."""

    def __init__(self, port, timeout=10):
        self.port, self.timeout = port, timeout
        self.conn = None
        self.requests = 0
        self.statuses = {}
        self.errors = []  # (time, path, what)
        self.latencies = []

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def get(self, path):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        t0 = time.monotonic()
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            self.requests += 1
            self.errors.append((time.time(), path, f"{type(e).__name__}: {e}"))
            return None, None
        self.latencies.append(time.monotonic() - t0)
        self.requests += 1
        self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
        if not 200 <= r.status < 300:
            self.errors.append((time.time(), path, f"HTTP {r.status} {data[:200]!r}"))
            return r.status, None
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            return r.status, json.loads(data)
        except ValueError:
            self.errors.append((time.time(), path, f"HTTP {r.status} body is not JSON: {data[:200]!r}"))
            return r.status, None


class HealthWatch(threading.Thread):
    """GETs /health every interval (own connection each time) and tallies what the
    non-200 answers said, so that a failing run shows why /health was not 200."""

    def __init__(self, port, interval=0.1):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.stop_ev = threading.Event()
        self.n = 0
        self.bad = {}
        self.latencies = []

    def run(self):
        while not self.stop_ev.wait(self.interval):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            t0 = time.monotonic()
            try:
                c.request("GET", "/health")
                r = c.getresponse()
                data = r.read().decode(errors="replace")
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status, data = 0, f"{type(e).__name__}: {e}"
            finally:
                c.close()
            self.latencies.append(time.monotonic() - t0)
            self.n += 1
            if status != 200:
                try:
                    doc = json.loads(data)
                    key = f"{status} status={doc.get('status')} database={doc.get('database')} " \
                          f"database_error={doc.get('database_error', '')!r} jobs={doc.get('jobs')}"
                except ValueError:
                    key = f"{status} {data[:200]}"
                self.bad[key] = self.bad.get(key, 0) + 1

    def stop(self):
        self.stop_ev.set()
        self.join(10)

    def report(self, indent="  "):
        lat = sorted(self.latencies)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
        out = [f"{indent}{self.n} probes, {sum(self.bad.values())} not 200, p99 {p99:.1f} ms"]
        for k, n in sorted(self.bad.items(), key=lambda kv: -kv[1]):
            out.append(f"{indent}  {n} x {k}")
        return out


# --- media ----------------------------------------------------------------------------

MARKER = b"vpo-loadsoak-00000000"
MARKER_PREFIX = b"vpo-loadsoak-"


class Media:
    """A small real .mkv (1 s, 160x120, h264 or mpeg4 + aac) encoded once with ffmpeg;
    copies get distinct contents by rewriting the digits of a title marker in place."""

    def __init__(self, workdir, ffmpeg="ffmpeg", ffprobe="ffprobe"):
        self.dir = os.path.join(workdir, "media-template")
        os.makedirs(self.dir, exist_ok=True)
        self.ffprobe = ffprobe
        self.template = os.path.join(self.dir, "template.mkv")
        self.counter = 0
        err = None
        for vcodec in (["-c:v", "libx264", "-preset", "ultrafast"], ["-c:v", "mpeg4"]):
            cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                   "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1",
                   "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                   *vcodec, "-c:a", "aac", "-metadata", "title=" + MARKER.decode(), self.template]
            r = subprocess.run(cmd, capture_output=True, timeout=120)
            if r.returncode == 0:
                break
            err = r.stderr.decode(errors="replace")
        else:
            raise Failed(f"ffmpeg could not encode the test video:\n{err}")
        with open(self.template, "rb") as f:
            self.bytes = f.read()
        if self.bytes.count(MARKER) != 1:
            raise Failed(f"the title marker occurs {self.bytes.count(MARKER)} times in the encoded video (want 1)")
        self.offset = self.bytes.index(MARKER) + len(MARKER_PREFIX)
        self.digits = len(MARKER) - len(MARKER_PREFIX)
        self.buf = bytearray(self.bytes)

    @property
    def size(self):
        return len(self.bytes)

    def write(self, path):
        """Writes one distinct valid copy to path."""
        self.counter += 1
        self.buf[self.offset:self.offset + self.digits] = b"%0*d" % (self.digits, self.counter)
        tmp = path + ".tmp-loadsoak"
        with open(tmp, "wb") as f:
            f.write(self.buf)
        os.rename(tmp, path)

    def tree(self, root, n, per_dir=100):
        """n copies in root/dNNN/vNNNNN.mkv, per_dir to a directory; returns the paths."""
        paths = []
        for i in range(n):
            d = os.path.join(root, f"d{i // per_dir:03d}")
            if i % per_dir == 0:
                os.makedirs(d, exist_ok=True)
            p = os.path.join(d, f"v{i:05d}.mkv")
            self.write(p)
            paths.append(p)
        return paths

    def probe_seconds(self, runs=7):
        """Median wall time of one real ffprobe run on the template, as vpo runs it."""
        times = []
        for _ in range(runs):
            t0 = time.monotonic()
            subprocess.run([self.ffprobe, "-v", "error", "-print_format", "json", "-show_format",
                            "-show_streams", "--", self.template], capture_output=True, timeout=60, check=True)
            times.append(time.monotonic() - t0)
        return statistics.median(times)

    def fake_ffprobe(self, path):
        """Writes a fake ffprobe: a /bin/sh script that prints what the real one says about
        the template, whatever it is asked. Only used to fill a catalogue quickly before a
        measurement starts."""
        out = subprocess.run([self.ffprobe, "-v", "error", "-print_format", "json", "-show_format",
                              "-show_streams", "--", self.template], capture_output=True, timeout=60, check=True).stdout
        jpath = path + ".json"
        with open(jpath, "wb") as f:
            f.write(out)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\n# fake ffprobe of scripts/loadsoak\nexec cat '{jpath}'\n")
        os.chmod(path, 0o755)
        return path


def prefill(h, binary, home, logpath, tree, workers, fake):
    """Catalogues tree with a daemon that uses the fake ffprobe, then stops it; the
    measured daemon then starts on this existing database with the real ffprobe."""
    d = Daemon(h, binary, home, logpath, {"VPO_FFPROBE_PATH": fake, "VPO_JOBS_WORKERS": str(workers)})
    d.start()
    try:
        jid = d.submit_scan(tree)
        j = d.wait_job(jid, ("completed", "failed", "cancelled"), 300)
        if j["state"] != "completed":
            raise Failed(f"pre-fill scan of {tree} ended {j['state']}: {j}")
        return j["progress"]
    finally:
        rc, _ = d.stop()
        if rc != 0:
            raise Failed(f"pre-fill daemon exited with status {rc}; log tail:\n{d.tail()}")


# --- /proc -----------------------------------------------------------------------------


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


def fd_kinds(pid, db=None):
    """Counts of open file descriptors by kind: socket, pipe, anon (anon_inode), db (the
    database file db and its -wal and -shm, when db is given), file (other files)."""
    kinds = {"socket": 0, "pipe": 0, "anon": 0, "db": 0, "file": 0}
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, name))
        except OSError:
            continue  # closed meanwhile
        if t.startswith("socket:"):
            kinds["socket"] += 1
        elif t.startswith("pipe:"):
            kinds["pipe"] += 1
        elif t.startswith("anon_inode:"):
            kinds["anon"] += 1
        elif db and t in (db, db + "-wal", db + "-shm", db + "-journal"):
            kinds["db"] += 1
        else:
            kinds["file"] += 1
    return kinds


def cpu_seconds(pid):
    """(own user+system CPU seconds, CPU seconds of its reaped children) of pid."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck, (int(fields[13]) + int(fields[14])) / tck


# --- wrk -------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk_cmd(url, conns, seconds, threads=1):
    """wrk with its default 2 s request timeout (a slower answer is a socket error)."""
    return ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", STATUS_LUA, url]


def parse_wrk(text):
    def dur(s):
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s)
        return float(m.group(1)) * UNITS[m.group(2)] if m else None

    def lat(pct):
        m = re.search(rf"^\s*{pct}%\s+(\S+)\s*$", text, re.M)
        return dur(m.group(1)) if m else None

    r = {"requests": None, "rps": None, "p50": lat(50), "p75": lat(75), "p90": lat(90), "p99": lat(99),
         "max": None, "non2xx": 0, "sockerr": 0, "sockerr_text": "none", "statuses": {}}
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"^\s*Latency\s+\S+\s+\S+\s+(\S+)", text, re.M)
    if m:
        r["max"] = dur(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["sockerr"] = sum(int(x) for x in m.groups())
        r["sockerr_text"] = f"connect {m.group(1)}, read {m.group(2)}, write {m.group(3)}, timeout {m.group(4)}"
    m = re.search(r"^statuses: (.*)$", text, re.M)  # printed by status.lua
    if m:
        for part in m.group(1).split():
            code, _, n = part.partition("=")
            if code.isdigit() and n.isdigit():
                r["statuses"][int(code)] = int(n)
    # Anything that is not a 2xx, whether or not wrk counts it (it does not count 3xx).
    r["bad_status"] = sum(n for c, n in r["statuses"].items() if not 200 <= c < 300)
    return r


def wrk_problems(r):
    """Reasons a wrk run failed, empty when clean."""
    out = []
    if r["requests"] is None or r["rps"] is None:
        out.append("could not parse wrk's output")
    if r["sockerr"]:
        out.append(f"socket errors ({r['sockerr_text']})")
    if r["non2xx"] or r["bad_status"]:
        out.append(f"non-2xx responses (wrk: {r['non2xx']}; by status: {fmt_statuses(r['statuses'])})")
    if not r["statuses"]:
        out.append("status.lua reported no statuses")
    return out


def fmt_statuses(st):
    return " ".join(f"{c}={n}" for c, n in sorted(st.items())) or "none"


# --- statistics --------------------------------------------------------------------------


def slope(xs, ys):
    """Least-squares slope of ys over xs (per unit of x); 0 for fewer than 2 points."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def slope_stderr(xs, ys):
    """Standard error of the least-squares slope; 0 for fewer than 3 points."""
    n = len(xs)
    if n < 3:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    b = slope(xs, ys)
    ss = sum((y - (my + b * (x - mx))) ** 2 for x, y in zip(xs, ys))
    return (ss / (n - 2) / sxx) ** 0.5


# --- machine ------------------------------------------------------------------------------


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "unavailable"


def machine(binary):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1).strip() if m else "?"
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = "?"
    return [("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")), ("nproc", sh(["nproc"])), ("cpu", cpu),
            ("memory", mem), ("kernel", sh(["uname", "-sr"])), ("vpo", sh([binary, "--version"])),
            ("ffprobe", sh(["sh", "-c", "ffprobe -version | head -n1 | cut -d' ' -f1-3"])),
            ("wrk", sh(["sh", "-c", "wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2"])),
            ("python3", sys.version.split()[0]), ("loadavg", load + "  (1, 5, 15 min, at start)")]


def machine_cpu_busy():
    """(monotonic, busy CPU seconds of the whole machine) for an other-load estimate."""
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return time.monotonic(), (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / tck


def check_tools(*tools):
    for t in tools:
        if shutil.which(t) is None:
            raise Failed(f"{t} is not installed (scripts/install-test-deps.sh)")
