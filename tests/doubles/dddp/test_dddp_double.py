"""Tests of the Delphix engine double against shared/reference/dddp-api.md.

Run with: /usr/bin/python3 -m pytest -q tests/doubles/dddp
Every server listens on 127.0.0.1 with port 0; every request and wait is bounded.
"""
import http.client, json, os, subprocess, sys, time
from datetime import datetime, timezone
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "dddp_double.py")
BASE = "/resources/json/delphix/"


class Double:
    def __init__(self, tmp, *args):
        self.port_file = str(tmp / "port")
        pw = tmp / "pw"
        pw.write_text("s3cret-pw\n")
        self.proc = subprocess.Popen([sys.executable, DOUBLE, "--port", "0", "--port-file", self.port_file,
                                      "--password-file", str(pw), "--job-duration", "0.4"] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while not os.path.exists(self.port_file):
            assert time.time() < deadline and self.proc.poll() is None, "double did not start"
            time.sleep(0.02)
        self.port = int(open(self.port_file).read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def raw(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = r.status, dict(r.getheaders()), r.read()
        c.close()
        return out

    def control(self, what, method="POST", **arg):
        st, _, b = self.raw(method, "/_double/" + what, arg if method == "POST" else None)
        assert st == 200, b
        return json.loads(b)

    def state(self):
        return self.control("state", "GET")

    def requests(self):
        return self.control("requests", "GET")


class Client:
    """A client with a cookie jar that keeps the newest JSESSIONID (§1.4)."""
    def __init__(self, d, version=(1, 10, 0), shape="jar"):
        self.d, self.cookie, self.shape = d, None, shape
        self.session_answer = self.call("POST", "session", {"type": "APISession", "version": {
            "type": "APIVersion", "major": version[0], "minor": version[1], "micro": version[2]}})

    def call(self, method, path, body=None, expect=200):
        h = {}
        if self.cookie:
            h["Cookie"] = {"jar": "JSESSIONID=%s" % self.cookie,
                           "verbatim": "JSESSIONID=%s; Path=/resources; HttpOnly" % self.cookie,
                           "extra": "other=1; JSESSIONID=%s" % self.cookie}[self.shape]
        st, hdrs, b = self.d.raw(method, BASE + path, body, h)
        sc = hdrs.get("Set-Cookie")
        if sc:
            self.cookie = sc.split(";")[0].split("=", 1)[1]
        self.status, self.headers = st, hdrs
        assert st == expect, (st, b[:300])
        return json.loads(b) if hdrs.get("Content-Type", "").startswith("application/json") else b.decode()

    def login(self, password="s3cret-pw", expect=200):
        return self.call("POST", "login", {"type": "LoginRequest", "username": "delphix_admin",
                                           "password": password, "target": "DOMAIN"}, expect)

    def ref(self, coll, name):
        r = self.call("GET", coll)
        assert r["type"] == "ListResult" and r["total"] == len(r["result"]) and r["overflow"] is False
        for o in r["result"]:
            if o["name"] == name:
                return o
        raise AssertionError("no %s %r" % (coll, name))

    def wait(self, job, limit=10):
        deadline = time.time() + limit
        seen = []
        while time.time() < deadline:
            j = self.call("GET", "job/" + job)["result"]
            seen.append((j["jobState"], j["parentActionState"], j["percentComplete"]))
            if j["parentActionState"] not in ("EXECUTING", "WAITING"):   # as delphixpy waits (§2.7)
                return j, seen
            time.sleep(0.05)
        raise AssertionError("job %s still running" % job)


@pytest.fixture
def d(tmp_path):
    dbl = Double(tmp_path)
    yield dbl
    dbl.stop()


def logged_in(d, **kw):
    c = Client(d, **kw)
    c.login()
    return c


# ---------------------------------------------------------------- sessions (§1.4, §2.1, §2.2, §5.5)
def test_session_login_rotates_cookie_and_old_cookie_stops_working(d):
    c = Client(d)
    assert c.session_answer["result"]["version"]["minor"] == 10
    assert c.headers["Set-Cookie"].endswith("; Path=/resources; HttpOnly")
    before = c.cookie
    assert c.login()["result"] == "USER-2"
    assert c.cookie != before
    old = Client.__new__(Client)
    old.d, old.cookie, old.shape = d, before, "jar"
    page = old.call("GET", "database", expect=403)
    assert "Use /resources/json/delphix/login to log in first" in page
    assert old.headers["Content-Type"].startswith("text/html")
    assert "Set-Cookie" in old.headers
    assert c.call("GET", "database")["status"] == "OK"


@pytest.mark.parametrize("shape", ["jar", "verbatim", "extra"])
def test_cookie_shapes_real_clients_send(d, shape):
    c = logged_in(d, shape=shape)
    assert c.call("GET", "database?")["type"] == "ListResult"


def test_no_cookie_is_403_html(d):
    st, h, b = d.raw("GET", BASE + "database")
    assert st == 403 and b"log in first" in b and "JSESSIONID=" in h["Set-Cookie"]


def test_unsupported_version_is_200_error_result(d):
    c = Client(d, version=(1, 99, 0))
    r = c.session_answer
    assert c.status == 200 and r["type"] == "ErrorResult" and r["status"] == "ERROR"
    assert r["error"]["id"] == "exception.webservices.session.invalid.version"
    assert set(r["error"]) == {"type", "details", "action", "id", "commandOutput", "diagnoses"}


def test_about_before_login_gives_max_version(tmp_path):
    d = Double(tmp_path, "--max-version", "1.8.2")
    try:
        c = Client(d, version=(1, 3, 0))
        v = c.call("GET", "about")["result"]["apiVersion"]
        assert (v["major"], v["minor"], v["micro"]) == (1, 8, 2)
    finally:
        d.stop()


def test_bad_password_401_and_lockout_after_three(d):
    c = Client(d)
    for _ in range(3):
        r = c.login("wrong", expect=401)
        assert r["error"]["id"] == "exception.webservices.login.failed"
        assert r["error"]["details"] == "Invalid username or password."
    c.login("s3cret-pw", expect=401)        # locked out now, even with the right password
    log = [e for e in d.requests() if e["path"].endswith("/login")]
    assert all(e["body"]["password"] == "****" for e in log)   # the double never logs passwords


def test_idle_timeout_and_forced_expiry(tmp_path):
    d = Double(tmp_path, "--session-timeout", "0.3")
    try:
        c = logged_in(d)
        c.call("GET", "database")
        time.sleep(0.5)
        assert "log in first" in c.call("GET", "database", expect=403)
    finally:
        d.stop()


def test_expire_at_request_expires_exactly_one_request(d):
    c = logged_in(d)
    d.control("faults", expire_at_request=2)
    c.call("GET", "database")
    c.call("GET", "group", expect=403)
    c.call("GET", "group", expect=403)      # the fresh cookie of the 403 is not logged in
    c2 = logged_in(d)
    assert c2.call("GET", "group")["status"] == "OK"
    assert [e["status"] for e in d.requests() if e.get("expired")] == [403]


def test_booting_engine_answers_502_html(d):
    d.control("faults", booting_requests=2)
    for _ in range(2):
        st, h, b = d.raw("POST", BASE + "session", {"type": "APISession", "version": {
            "type": "APIVersion", "major": 1, "minor": 10, "micro": 0}})
        assert st == 502 and b"booting" in b and h["Content-Type"].startswith("text/html")
    assert Client(d).status == 200


# ---------------------------------------------------------------- objects (§2.4, §5.3)
def test_objects_have_all_keys(d):
    c = logged_in(d)
    db = c.ref("database", "Patients Masked Master")
    for k in ("reference", "namespace", "name", "group", "provisionContainer", "currentTimeflow",
              "previousTimeflow", "masked", "description", "runtime", "sourcingPolicy"):
        assert k in db
    assert db["masked"] is True and db["provisionContainer"] == c.ref("database", "Patients Prod")["reference"]
    src = c.call("GET", "source?database=" + db["reference"])["result"][0]
    assert src["operations"]["configureClone"][0]["name"] == "Masking Job"
    t = c.ref("selfservice/template", "Patients")
    conts = c.call("GET", "selfservice/container?template=" + t["reference"])["result"]
    assert sorted(x["name"] for x in conts) == ["prep%d" % i for i in range(1, 7)]
    for x in conts:
        for k in ("activeBranch", "firstOperation", "lastOperation", "lastUpdated", "state", "template",
                  "reference", "name"):
            assert isinstance(x[k], str), k
        assert isinstance(x["operationCount"], int)
    st, _, b = d.raw("GET", BASE + "database/APPDATA_CONTAINER-999", headers={"Cookie": "JSESSIONID=" + c.cookie})
    assert st == 404 and json.loads(b)["error"]["id"] == "exception.executor.object.missing"


def test_selfservice_needs_1_9_jetstream_always_works(d):
    old = logged_in(d, version=(1, 7, 0))
    r = old.call("GET", "selfservice/template", expect=404)
    assert r["type"] == "ErrorResult"
    assert old.ref("jetstream/template", "Patients")["type"] == "JSDataTemplate"
    new = logged_in(d, version=(1, 9, 3))
    assert new.ref("selfservice/template", "Patients")["reference"] == \
        new.ref("jetstream/template", "Patients")["reference"]


# ---------------------------------------------------------------- jobs (§2.5-2.7, §5.4)
def test_sync_then_refresh_moves_data_and_jobs_progress(d):
    c = logged_in(d)
    prod, mm = c.ref("database", "Patients Prod"), c.ref("database", "Patients Masked Master")
    r = c.call("POST", "database/%s/sync?" % prod["reference"], b"")
    assert r["result"] == "" and r["job"].startswith("JOB-") and r["action"].startswith("ACTION-")
    job, seen = c.wait(r["job"])
    assert job["jobState"] == "COMPLETED" and job["parentActionState"] == "COMPLETED"
    assert job["actionType"] == "DB_SYNC" and job["percentComplete"] == 100.0
    # parentActionState tracks jobState at every look (§2.7)
    assert all(st[1] == {"RUNNING": "EXECUTING"}.get(st[0], st[0]) for st in seen), seen
    assert job["events"][0]["messageCode"] == "event.job.started"
    assert job["events"][-1]["messageCode"] == "event.job.completed"
    r = c.call("POST", "database/%s/refresh" % mm["reference"], {
        "type": "RefreshParameters", "timeflowPointParameters": {"type": "TimeflowPointSemantic",
                                                                 "location": "LATEST_SNAPSHOT"}})
    job, _ = c.wait(r["job"])
    assert job["jobState"] == "COMPLETED"
    assert any(e["messageCode"] == "event.virtualsource.configure.clone" for e in job["events"])
    after = c.ref("database", "Patients Masked Master")
    assert after["previousTimeflow"] == mm["currentTimeflow"] != after["currentTimeflow"]
    s = d.state()
    assert s["versions"][mm["reference"]] == s["prod_version"] == 2
    assert c.call("GET", "action/" + r["action"])["result"]["state"] == "COMPLETED"


def test_progress_is_visible_while_running(tmp_path):
    d = Double(tmp_path, "--job-duration", "1.0")
    try:
        c = logged_in(d)
        prod = c.ref("database", "Patients Prod")
        job, seen = c.wait(c.call("POST", "database/%s/sync" % prod["reference"], {})["job"])
        mids = [s for s in seen if s[0] == "RUNNING"]
        assert mids and all(s[1] == "EXECUTING" for s in mids)
        assert any(0 < s[2] < 100 for s in mids)
        assert [s[2] for s in seen] == sorted(s[2] for s in seen)
    finally:
        d.stop()


def test_failing_masking_fails_the_refresh(d):
    c = logged_in(d)
    d.control("faults", fail_masking=True)
    mm = c.ref("database", "Patients Masked Master")
    r = c.call("POST", "database/%s/refresh" % mm["reference"], {
        "type": "RefreshParameters", "timeflowPointParameters": {"type": "TimeflowPointSemantic",
                                                                 "location": "LATEST_SNAPSHOT"}})
    job, _ = c.wait(r["job"])
    assert job["jobState"] == "FAILED" and job["parentActionState"] == "FAILED"
    err = job["events"][-1]
    assert err["eventType"] == "ERROR" and "Masking Job" in err["messageDetails"]
    assert err["messageCommandOutput"]
    assert c.call("GET", "action/" + r["action"])["result"]["failureDescription"]
    assert c.ref("database", "Patients Masked Master")["currentTimeflow"] == mm["currentTimeflow"]


def test_container_refresh_failing_pod_and_bookmark(d):
    c = logged_in(d, version=(1, 10, 0))
    d.control("faults", fail_pods=["prep3"])
    p1, p3 = c.ref("selfservice/container", "prep1"), c.ref("selfservice/container", "prep3")
    ok1 = c.call("POST", "selfservice/container/%s/refresh" % p1["reference"],
                 {"type": "JSDataContainerRefreshParameters", "forceOption": False})
    bad = c.call("POST", "jetstream/container/%s/refresh" % p3["reference"], {})
    assert c.wait(ok1["job"])[0]["jobState"] == "COMPLETED"
    j3 = c.wait(bad["job"])[0]
    assert j3["jobState"] == "FAILED" and j3["events"][-1]["eventType"] == "ERROR"
    after = c.ref("selfservice/container", "prep1")
    assert after["operationCount"] == p1["operationCount"] + 1 and after["lastOperation"] != p1["lastOperation"]
    b = c.call("POST", "selfservice/bookmark", {
        "type": "JSBookmarkCreateParameters",
        "bookmark": {"type": "JSBookmark", "name": "prep1 now", "branch": after["activeBranch"],
                     "shared": True, "tags": ["a", "b"]},
        "timelinePointParameters": {"type": "JSTimelinePointLatestTimeInput",
                                    "sourceDataLayout": after["reference"]}})
    assert b["result"].startswith("JS_BOOKMARK-")
    assert c.wait(b["job"])[0]["jobState"] == "COMPLETED"
    bm = c.call("GET", "selfservice/bookmark/" + b["result"])["result"]
    assert bm["shared"] is True and bm["usable"] is True and bm["tags"] == ["a", "b"]
    assert bm["bookmarkType"] == "DATA_CONTAINER" and bm["containerName"] == "prep1"
    listed = c.call("GET", "selfservice/bookmark?container=" + after["reference"])["result"]
    assert [x["name"] for x in listed] == ["prep1 now"]
    # §2.13: share is synchronous, its action already COMPLETED; §2.8: the title is the actionType
    sh = c.call("POST", "selfservice/bookmark/%s/unshare" % b["result"], b"")
    assert sh["type"] == "OKResult" and sh["job"] is None
    act = c.call("GET", "action/" + sh["action"])["result"]
    assert act["state"] == "COMPLETED" and act["title"] == act["actionType"]
    assert act["workSourceName"] == "delphix_admin"
    assert c.call("GET", "selfservice/bookmark/" + b["result"])["result"]["shared"] is False
    assert c.call("GET", "action/" + b["action"])["result"]["workSourceName"] == "delphix_admin"


def test_running_job_conflict_and_busy_list(d):
    c = logged_in(d)
    d.control("faults", busy={"prep2": 1.0})
    p2 = c.ref("selfservice/container", "prep2")
    running = c.call("GET", "job?jobState=RUNNING&target=" + p2["reference"])["result"]
    assert len(running) == 1 and running[0]["events"] is None
    r = c.call("POST", "selfservice/container/%s/refresh" % p2["reference"], {})
    assert r["type"] == "ErrorResult" and "running" in r["error"]["details"]


def test_conflict_off_queues_the_job_behind_the_running_one(d):
    c = logged_in(d)
    d.control("faults", conflict=False, busy={"prep2": 1.0})
    p2 = c.ref("selfservice/container", "prep2")
    r = c.call("POST", "selfservice/container/%s/refresh" % p2["reference"], {})
    assert r["type"] == "OKResult"
    j = c.call("GET", "job/" + r["job"])["result"]
    # §4 engine busy: the job is RUNNING but queued, and its action WAITING (§2.7)
    assert (j["jobState"], j["queued"], j["parentActionState"]) == ("RUNNING", True, "WAITING")
    assert c.call("GET", "action/" + r["action"])["result"]["state"] == "WAITING"
    job, seen = c.wait(r["job"])
    assert job["jobState"] == "COMPLETED" and job["queued"] is False
    waiting = [st for st in seen if st[1] == "WAITING"]
    assert waiting and all(st[2] == 0.0 for st in waiting), seen
    jobs = {x["reference"]: x for x in d.state()["jobs"]}
    foreign = [x for x in jobs.values() if x["user"] == "USER-1"][0]
    ours = jobs[r["job"]]
    started = [e for e in ours["events"] if e["percentComplete"] > 0]
    assert foreign["_end"] is not None and started
    first = datetime.strptime(started[0]["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert first.timestamp() >= foreign["_end"] - 0.001   # timestamps are cut to milliseconds


def test_job_and_action_paths_answer_only_for_jobs_and_actions(d):
    c = logged_in(d)
    for method, path in (("GET", "job/USER-2"), ("GET", "job/JOB-999"), ("POST", "job/GROUP-1/cancel"),
                         ("GET", "action/USER-2")):
        r = c.call(method, path, {} if method == "POST" else None, expect=404)
        assert r["type"] == "ErrorResult" and r["error"]["id"] == "exception.executor.object.missing", path


def test_hold_barrier_releases_when_count_reached(d):
    c = logged_in(d)
    d.control("faults", hold={"action_type": "JETSTREAM_USER_CONTAINER_REFRESH", "count": 2, "timeout": 20})
    a = c.ref("selfservice/container", "prep1")["reference"]
    b = c.ref("selfservice/container", "prep2")["reference"]
    ja = c.call("POST", "selfservice/container/%s/refresh" % a, {})["job"]
    time.sleep(0.6)
    assert c.call("GET", "job/" + ja)["result"]["percentComplete"] == 0.0   # held
    jb = c.call("POST", "selfservice/container/%s/refresh" % b, {})["job"]
    assert c.wait(ja)[0]["jobState"] == "COMPLETED" and c.wait(jb)[0]["jobState"] == "COMPLETED"


def test_cancel_and_slow_job(d):
    c = logged_in(d)
    d.control("faults", slow={"Patients Prod": 30})
    prod = c.ref("database", "Patients Prod")
    j = c.call("POST", "database/%s/sync" % prod["reference"], {})["job"]
    time.sleep(0.3)
    assert c.call("GET", "job/" + j)["result"]["jobState"] == "RUNNING"
    c.call("POST", "job/%s/cancel" % j, {})
    job = c.call("GET", "job/" + j)["result"]
    assert job["jobState"] == "CANCELED" and job["parentActionState"] == "CANCELED"


def test_suspended_job_waits_then_runs_on_or_is_cancelled(d):
    c = logged_in(d)
    d.control("faults", suspend={"Patients Prod": 0.5, "prep1": 30})
    prod = c.ref("database", "Patients Prod")
    r = c.call("POST", "database/%s/sync" % prod["reference"], {})
    job, seen = c.wait(r["job"])
    # §2.7: SUSPENDED -> parentActionState WAITING; then RUNNING again, and it ends
    assert ("SUSPENDED", "WAITING") in [st[:2] for st in seen], seen
    assert job["jobState"] == "COMPLETED" and job["percentComplete"] == 100.0
    codes = [e["messageCode"] for e in job["events"]]
    assert codes.index("event.job.suspended") < codes.index("event.job.resumed") < codes.index("event.job.completed")
    p1 = c.ref("selfservice/container", "prep1")
    j = c.call("POST", "selfservice/container/%s/refresh" % p1["reference"], {})["job"]
    time.sleep(0.2)
    st = c.call("GET", "job/" + j)["result"]
    assert (st["jobState"], st["parentActionState"]) == ("SUSPENDED", "WAITING")
    assert c.call("GET", "job?jobState=RUNNING&target=" + p1["reference"])["result"] == []
    c.call("POST", "job/%s/cancel" % j, {})
    st = c.call("GET", "job/" + j)["result"]
    assert (st["jobState"], st["parentActionState"]) == ("CANCELED", "CANCELED")


def test_container_create_and_recover_rules(d):
    c = logged_in(d)
    d.control("delete", name="prep4")
    t = c.ref("selfservice/template", "Patients")
    vdb = c.ref("database", "prep4")
    r = c.call("POST", "selfservice/container", {
        "type": "JSDataContainerCreateWithRefreshParameters", "name": "prep4", "template": t["reference"],
        "dataSources": [{"type": "JSDataSourceCreateParameters", "container": vdb["reference"],
                         "source": {"type": "JSDataSource", "name": "prep4", "priority": 1}}],
        "owners": ["USER-2"],
        "timelinePointParameters": {"type": "JSTimelinePointLatestTimeInput", "sourceDataLayout": t["reference"]}})
    assert r["result"].startswith("JS_DATA_CONTAINER-")
    assert c.wait(r["job"])[0]["actionType"] == "JETSTREAM_ADMIN_CONTAINER_CREATE"
    r = c.call("POST", "selfservice/container/%s/recover" % r["result"], b"")
    assert r["type"] == "ErrorResult"       # recover needs INCONSISTENT


def test_notification_long_poll_wakes_on_job_update(d):
    c = logged_in(d)
    t0 = time.time()
    assert c.call("GET", "notification?channel=a&timeout=300")["result"] == []
    assert time.time() - t0 >= 0.25
    prod = c.ref("database", "Patients Prod")
    c.call("POST", "database/%s/sync" % prod["reference"], {})
    notes = c.call("GET", "notification?channel=a&timeout=5000")["result"]
    assert notes and notes[0]["type"] == "ObjectNotification" and notes[0]["objectType"] == "Job"


def test_request_log_file(tmp_path):
    log = tmp_path / "req.jsonl"
    d = Double(tmp_path, "--log", str(log))
    try:
        logged_in(d).call("GET", "database")
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        assert [x["path"].rsplit("/", 1)[1] for x in lines] == ["session", "login", "database"]
        assert "s3cret-pw" not in log.read_text()
    finally:
        d.stop()
