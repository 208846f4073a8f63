#!/usr/bin/python3
"""The baseline of the claim benchmark: the least a poller can do.

Usage: claim_poller.py URL INTERVAL_S USER TOKEN

Every INTERVAL_S (after each poll, no jitter): GET the queue, POST
cancelItem for every item in it. No node, no catalog, no run: what the
agent's claim latency has on top of this is what the agent adds.
"""
import base64, json, sys, time, urllib.request

url, interval, user, token = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
auth = "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()


def call(method, path):
    req = urllib.request.Request(url + path, method=method, headers={"Authorization": auth},
                                 data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


while True:
    try:
        for it in json.loads(call("GET", "/queue/api/json?tree=items[id]"))["items"]:
            try:
                call("POST", "/queue/cancelItem?id=%d" % it["id"])
            except Exception:
                pass
    except Exception as e:
        print("claim_poller: %s" % e, file=sys.stderr)
    time.sleep(interval)
