#!/usr/bin/python3
"""Claim latency and live-log latency of the real agent against the Jenkins double.

Usage: bench_claim.py AGENT_BINARY [--intervals 2000,200] [--items N] [--span-polls K]
                      [--burst B] [--seed S] [--watch-ms MS] [--keep DIR]

For each poll interval, two phases against a fresh Jenkins double
(tests/doubles/jenkins/jenkins_double.py, 127.0.0.1 only):

  baseline  bench/claim_poller.py: GET the queue and POST cancelItem for
            every item, every interval; nothing else.
  agent     `dataops-agent agent` (poll_interval = the interval, 32
            executors so that a claim never waits for a free slot) with a
            one-step operation that prints three lines 0.3 s apart, each
            carrying the time it was printed.

In each phase, N items are triggered (buildWithParameters, as alice) at
random moments spread over K poll intervals (the same moments for both
phases of an interval); then, at the shortest interval, B items back to
back (a sequence or several users at once: all found by one poll, so the
time between their claims shows). Measured per item:

  claim     trigger's 201 answer (client clock) -> the 204 cancelItem in
            the double's request log, answered at t + ms (t alone is when the
            double began waiting for the request, which on a kept-alive
            connection is when the one before it ended)
  visible   trigger's 201 -> the item's first line is in the run's log in
            Jenkins (agent only)
  printed   each line's own print time -> it is in Jenkins (agent only)

"In Jenkins" is found by polling /_double/state every --watch-ms; the time
taken is when the answer arrived, so it errs late by up to one watch
period. Percentiles are nearest-rank: with 40 items p99 is the largest.
Nothing passes or fails on time: the figures are printed with their ratio
to the baseline and to DESIGN.md §5's targets (claim p99 under poll
interval + 100 ms; printed -> visible p99 under 1 s).
"""
import argparse, base64, json, math, os, random, re, shutil, signal, subprocess, sys, tempfile
import threading, time, urllib.error, urllib.parse, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "..", "tests", "doubles", "jenkins", "jenkins_double.py")
POLLER = os.path.join(HERE, "claim_poller.py")
PY = "/usr/bin/python3"
JOB = "Provision/dev/DataPipeline/Echo"
LINE_RE = re.compile(r"bench item (\d+) line (\d+) printed ([0-9.]+)\n")

CHILDREN = []


def cleanup(*_):
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
    for p in CHILDREN:
        try:
            p.wait(timeout=5)
        except Exception:
            pass
    CHILDREN.clear()


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def spawn(argv, log):
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    CHILDREN.append(p)
    return p


def stop(p, grace=10.0):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    CHILDREN.remove(p)


class Jenkins:
    def __init__(self, url):
        self.url = url

    def call(self, method, path, data=None, user="alice", token="alice-token", ctype=None):
        h = {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()}
        if ctype:
            h["Content-Type"] = ctype
        if method == "POST" and data is None:
            data = b""
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def control(self, what):
        with urllib.request.urlopen(self.url + "/_double/" + what, timeout=10) as r:
            return json.loads(r.read())


def job_path(full):
    return "".join("/job/" + urllib.parse.quote(s) for s in full.split("/"))


def start_double(tmp):
    port_file = os.path.join(tmp, "jd.port")
    log = open(os.path.join(tmp, "jd.out"), "w")
    p = spawn([PY, DOUBLE, "--port", "0", "--port-file", port_file,
               "--users", "agent:agent-token,alice:alice-token",
               "--log", os.path.join(tmp, "jd-requests.jsonl")], log)
    for _ in range(100):
        if os.path.exists(port_file) and open(port_file).read().strip():
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the Jenkins double did not start (see %s/jd.out)" % tmp)
    jk = Jenkins("http://127.0.0.1:%s" % open(port_file).read().strip())
    # Folders, the parameterized trigger job and its -runs External Job (as jenkins_lib.sh).
    *folders, name = JOB.split("/")
    acc = ""
    for seg in folders:
        jk.call("POST", acc + "/createItem?name=" + seg, b"<com.cloudbees.hudson.plugins.folder.Folder/>",
                ctype="application/xml")
        acc += "/job/" + seg
    defs = ("<hudson.model.StringParameterDefinition><name>n</name><defaultValue></defaultValue>"
            "</hudson.model.StringParameterDefinition>")
    jk.call("POST", acc + "/createItem?name=" + name, (
        "<project><properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>%s"
        "</parameterDefinitions></hudson.model.ParametersDefinitionProperty></properties>"
        "<quietPeriod>0</quietPeriod><canRoam>false</canRoam><assignedNode>dataops-agent</assignedNode>"
        "<concurrentBuild>true</concurrentBuild><builders><hudson.tasks.Shell><command>exit 1</command>"
        "</hudson.tasks.Shell></builders></project>" % defs).encode(), ctype="application/xml")
    jk.call("POST", acc + "/createItem?name=" + name + "-runs", b"<hudson.model.ExternalJob/>",
            ctype="application/xml")
    return p, jk


def agent_files(tmp, url, interval_ms):
    jobs = os.path.join(tmp, "jobs")
    os.makedirs(jobs, exist_ok=True)
    os.makedirs(os.path.join(tmp, "state"), exist_ok=True)
    with open(os.path.join(jobs, "echo.xml"), "w") as f:
        f.write("""<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Echo" display-name="Echo">
  <parameters><param name="n" default="0"/></parameters>
  <steps><step name="say" shell="true"><script>
for k in 1 2 3; do
  printf 'bench item %s line %s printed %s\\n' "$n" "$k" "$(date +%s.%N)"
  sleep 0.3
done
  </script></step></steps>
</operation>
""")
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write("agent-token\n")
    os.chmod(token, 0o600)
    conf = os.path.join(tmp, "agent.conf")
    with open(conf, "w") as f:
        f.write("[agent]\ncatalog = %s\nstate_dir = %s/state\nenvs = dev\npoll_interval = %dms\n"
                "executors = 32\n[git]\ncache_dir = %s/cache\n[jenkins]\nurl = %s\nuser = agent\n"
                "token_file = %s\nnode = bench-agent\nlabels = dataops-agent\n"
                % (jobs, tmp, interval_ms, tmp, url, token))
    return conf


class Watcher(threading.Thread):
    """Polls the double's state; first time each (item, line) is in a run's log."""
    def __init__(self, jk, period_s):
        super().__init__(daemon=True)
        self.jk, self.period, self.seen, self.done = jk, period_s, {}, False
        self.building = True
        self.polls, self.poll_s = 0, 0.0

    def run(self):
        while not self.done:
            t0 = time.time()
            try:
                st = self.jk.control("state")
            except Exception:
                time.sleep(self.period)
                continue
            t = time.time()
            self.polls += 1
            self.poll_s += t - t0
            runs = st["jobs"].get(JOB + "-runs", {}).get("runs", [])
            self.building = any(r["building"] for r in runs)
            for r in runs:
                for m in LINE_RE.finditer(r.get("log", "")):
                    key = (int(m.group(1)), int(m.group(2)))
                    if key not in self.seen:
                        self.seen[key] = (t, float(m.group(3)))
            time.sleep(max(0.0, self.period - (time.time() - t0)))


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, math.ceil(p / 100.0 * len(xs)) - 1)] if xs else float("nan")


def summary(xs):
    return {"n": len(xs), "p50": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99), "max": max(xs) if xs else float("nan")}


def fmt(s):
    return "p50 %5.0f  p90 %5.0f  p99 %5.0f  max %5.0f ms (n=%d)" % (s["p50"], s["p90"], s["p99"], s["max"], s["n"])


def phase(kind, agent_bin, interval_ms, moments, watch_ms, tmp):
    """One subject against a fresh double; per-item latencies in ms."""
    os.makedirs(tmp, exist_ok=True)
    double, jk = start_double(tmp)
    sub_log = open(os.path.join(tmp, kind + ".log"), "w")
    if kind == "agent":
        conf = agent_files(tmp, jk.url, interval_ms)
        sub = spawn([agent_bin, "--config", conf, "agent"], sub_log)
    else:
        sub = spawn([PY, POLLER, jk.url, str(interval_ms / 1000.0), "agent", "agent-token"], sub_log)
    # Ready once it has read the queue once.
    deadline = time.time() + 15
    while not any(e["path"] == "/queue/api/json" for e in jk.control("requests")):
        if time.time() > deadline or sub.poll() is not None:
            raise RuntimeError("%s did not start polling (see %s/%s.log)" % (kind, tmp, kind))
        time.sleep(0.05)
    watcher = None
    if kind == "agent":
        watcher = Watcher(jk, watch_ms / 1000.0)
        watcher.start()
    # Start at a random phase of the subject's poll cycle.
    time.sleep(moments[0])
    t_start = time.time()
    trig = {}                                   # n -> (queue id, time of the 201)
    for n, at in enumerate(moments[1:], 1):
        time.sleep(max(0.0, t_start + at - time.time()))
        st, hdrs, _ = jk.call("POST", job_path(JOB) + "/buildWithParameters?delay=0sec",
                              urllib.parse.urlencode({"n": str(n)}).encode(),
                              ctype="application/x-www-form-urlencoded")
        t = time.time()
        loc = {k.lower(): v for k, v in hdrs.items()}.get("location", "")
        m = re.search(r"/queue/item/(\d+)/", loc)
        if st != 201 or not m:
            raise RuntimeError("trigger %d: %s %s" % (n, st, loc))
        trig[n] = (int(m.group(1)), t)
    # Until every item is claimed (and, for the agent, every line is in Jenkins and every run over).
    deadline = time.time() + 2 * interval_ms / 1000.0 + 20
    claims = {}
    while time.time() < deadline:
        claims = {}
        for e in jk.control("requests"):
            if e["path"] == "/queue/cancelItem" and e["status"] == 204:
                q = int(urllib.parse.parse_qs(e["query"]).get("id", ["0"])[0])
                # t is when the double began waiting for the request: on a kept-alive
                # connection that is the end of the one before. t + ms is the 204's answer.
                claims.setdefault(q, e["t"] + e["ms"] / 1000.0)
        done = all(q in claims for q, _ in trig.values())
        if watcher:
            done = done and len(watcher.seen) >= 3 * len(trig) and not watcher.building
        if done:
            break
        time.sleep(0.2)
    if watcher:
        watcher.done = True
        watcher.join()
    stop(sub)
    stop(double)
    missing = [n for n, (q, _) in trig.items() if q not in claims]
    res = {"claim": [(claims[q] - t) * 1000 for q, t in trig.values() if q in claims],
           "claim_times": sorted(claims[q] for q, _ in trig.values() if q in claims),
           "missing": missing}
    if watcher:
        res["visible"] = [(watcher.seen[(n, 1)][0] - t) * 1000 for n, (q, t) in trig.items() if (n, 1) in watcher.seen]
        res["printed"] = [(seen - printed) * 1000 for seen, printed in watcher.seen.values()]
        res["lines_missing"] = 3 * len(trig) - len(watcher.seen)
        res["watch_ms"] = watcher.poll_s / max(1, watcher.polls) * 1000
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agent")
    ap.add_argument("--intervals", default="2000,200")
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--span-polls", type=float, default=3.0, help="triggers spread over this many intervals")
    ap.add_argument("--min-span", type=float, default=4.0, help="seconds, at least")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--watch-ms", type=float, default=25.0)
    ap.add_argument("--burst", type=int, default=16, help="then this many items at once, at the shortest interval; 0: no burst")
    ap.add_argument("--keep", default=None, help="keep the phases' files under this directory")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    top = a.keep or tempfile.mkdtemp(prefix="da-bench-claim-")
    print("claim latency: %d items per phase at random moments, seed %d, watch every %.0f ms; load %s"
          % (a.items, seed, a.watch_ms, open("/proc/loadavg").read().split()[0]))
    try:
        scenarios = []
        for iv in [int(x) for x in a.intervals.split(",")]:
            span = max(a.min_span, a.span_polls * iv / 1000.0)
            scenarios.append((iv, "random", "%d items over %.1f s" % (a.items, span),
                              [rnd.uniform(0, iv / 1000.0)] + sorted(rnd.uniform(0, span) for _ in range(a.items))))
        if a.burst:
            iv = min(x[0] for x in scenarios)
            scenarios.append((iv, "burst", "a burst of %d items triggered back to back" % a.burst,
                              [rnd.uniform(0, iv / 1000.0)] + [0.0] * a.burst))
        for iv, name, what, moments in scenarios:
            target = iv + 100
            out = {}
            for kind in ("baseline", "agent"):
                out[kind] = phase(kind, a.agent, iv, moments, a.watch_ms,
                                  os.path.join(top, "%s-%s-%d" % (kind, name, iv)))
            b, g = summary(out["baseline"]["claim"]), summary(out["agent"]["claim"])
            print("poll interval %d ms, %s:" % (iv, what))
            print("  claim, baseline poller: %s" % fmt(b))
            print("  claim, agent:           %s" % fmt(g))
            print("  claim p99: agent/baseline %.2f; agent/target (%d ms) %.2f; agent p50/baseline p50 %.2f"
                  % (g["p99"] / b["p99"], target, g["p99"] / target, g["p50"] / b["p50"]))
            if name == "burst":
                for kind in ("baseline", "agent"):
                    ts = out[kind]["claim_times"]
                    print("  %s: the %d claims took %.0f ms from first to last (%.1f ms each)"
                          % (kind, len(ts), (ts[-1] - ts[0]) * 1000, (ts[-1] - ts[0]) * 1000 / max(1, len(ts) - 1)))
            v, p = summary(out["agent"]["visible"]), summary(out["agent"]["printed"])
            print("  trigger -> first line visible in Jenkins: %s" % fmt(v))
            print("  line printed -> visible in Jenkins:      %s" % fmt(p))
            print("  printed -> visible p99/target (1000 ms) %.2f; the watcher's own poll took %.0f ms on average"
                  % (p["p99"] / 1000.0, out["agent"]["watch_ms"]))
            for kind in ("baseline", "agent"):
                if out[kind]["missing"]:
                    print("  WARNING: %s never claimed items %s" % (kind, out[kind]["missing"]))
            if out["agent"]["lines_missing"]:
                print("  WARNING: %d lines never seen in Jenkins" % out["agent"]["lines_missing"])
            sys.stdout.flush()
    finally:
        cleanup()
        if not a.keep:
            shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
