#!/usr/bin/python3
"""demo_user.py - what a release engineer does in the Jenkins UI, as HTTP calls.

For each operation of a catalog sequence (jobs/sequences.xml) in order: click
"Build with Parameters" (buildWithParameters), find the run the agent records
in the sibling "-runs" job, follow its console live (progressiveText, as the
console page does), then show its result, duration, display name and
description. Standard library only; used by scripts/demo.sh.

usage: demo_user.py JENKINS_URL USER TOKEN SEQUENCES_XML SEQUENCE|job:PATH ENV NAME=VALUE...

ENV replaces {env} in the paths; give "-" for operations without one
(DataRefresh/DataPipeline).

Exit status: 0 when every run ended SUCCESS, 1 when one ended otherwise, 2 when
a run could not be followed (not picked up or not finished in time) or the
arguments name nothing to run.
"""
import base64
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

NOTE = re.compile(rb"\x1b\[8mha:[^\x1b]*\x1b\[0m")   # console notes (jenkins-api.md §8.1)
BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


class Jenkins:
    def __init__(self, url, user, token):
        self.url = url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()

    def call(self, method, path, data=None):
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", self.auth)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        return urllib.request.urlopen(req, timeout=30)

    def json(self, path):
        with self.call("GET", path) as r:
            return json.load(r)


def job_path(full_name):
    return "".join("/job/" + urllib.parse.quote(seg, safe="") for seg in full_name.split("/"))


def trigger(j, job, params):
    body = urllib.parse.urlencode(params).encode()
    try:
        r = j.call("POST", job_path(job) + "/buildWithParameters?delay=0sec", body)
        loc = r.headers["Location"]
    except urllib.error.HTTPError as e:        # 303: folded into an identical queued item
        if e.code != 303:
            raise
        loc = e.headers["Location"]
    return int(re.search(r"/queue/item/(\d+)/", loc).group(1))


def find_run(j, runs_job, qid, deadline):
    """The run whose console starts with the agent's claim of queue item qid."""
    marker = ("claimed queue item %d of" % qid).encode()
    while time.time() < deadline:
        builds = j.json(job_path(runs_job) + "/api/json?tree=builds[number]").get("builds", [])
        for b in builds[:10]:
            with j.call("GET", "%s/%d/consoleText" % (job_path(runs_job), b["number"])) as r:
                if marker in r.read(4096):
                    return b["number"]
        time.sleep(0.3)
    die("queue item %d was not picked up by an agent in time" % qid)


def follow(j, runs_job, number, deadline):
    """Print the console as it grows, like the console page does."""
    start = 0
    while time.time() < deadline:
        with j.call("GET", "%s/%d/logText/progressiveText?start=%d" % (job_path(runs_job), number, start)) as r:
            text = NOTE.sub(b"", r.read()).replace(b"\r\n", b"\n")
            more = r.headers.get("X-More-Data") == "true"
            start = int(r.headers.get("X-Text-Size", start))
        for line in text.decode("utf-8", "replace").splitlines():
            print("    " + DIM + "│" + RESET + " " + line, flush=True)
        if not more:
            return
        time.sleep(0.3)
    die("run %s #%d did not finish in time" % (runs_job, number))


def main(argv):
    url, user, token, seq_file, seq_name, env = argv[1:7]
    params = dict(a.split("=", 1) for a in argv[7:])
    j = Jenkins(url, user, token)
    if seq_name.startswith("job:"):           # one operation instead of a sequence
        paths = [seq_name[4:]]
    else:
        seq = next((s for s in ET.parse(seq_file).getroot().iter("sequence") if s.get("name") == seq_name), None)
        if seq is None:
            die("no sequence %r in %s" % (seq_name, seq_file))
        paths = [op.get("path") for op in seq.iter("op")]
    results = []
    for path in paths:
        if "{env}" in path and env == "-":
            die("%s needs an environment" % path)
        job = path.replace("{env}", env)
        qid = trigger(j, job, params)
        print("\n%s▶ %s%s  (Build with Parameters %s → queue item %d)" %
              (BOLD, job, RESET, " ".join("%s=%s" % kv for kv in params.items()), qid), flush=True)
        t0 = time.time()
        number = find_run(j, job + "-runs", qid, t0 + 60)
        follow(j, job + "-runs", number, t0 + 600)
        b = j.json("%s/%d/api/json" % (job_path(job + "-runs"), number))
        print("    %s%s%s in %.1f s — %s" % (BOLD, b["result"], RESET, b["duration"] / 1000.0, b["displayName"]))
        print("    %s" % b["description"])
        results.append((job, b["result"], b["displayName"], "%s-runs #%d" % (job, number)))
        if b["result"] != "SUCCESS" and len(paths) > 1:
            print("    the sequence stops at the first failure, as it would by hand")
            break
    what = "Sequence " + seq_name if len(paths) > 1 else "Run"
    if any("{env}" in p for p in paths):
        what += " for " + env
    print("\n%s%s%s" % (BOLD, what, RESET))
    for job, result, name, where in results:
        print("  %-45s %-8s %-22s %s" % (job, result, name, where))
    return 0 if all(r[1] == "SUCCESS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
