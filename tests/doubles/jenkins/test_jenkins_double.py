"""Tests of the Jenkins double, including a cross-check with python-jenkins 1.4 and jenkins-jobs 3.11.

Run with: /usr/bin/python3 -m pytest -q tests/doubles/jenkins
Every server listens on 127.0.0.1 with port 0; every socket has a timeout.
"""
import base64, json, os, socket, subprocess, sys, threading, time, urllib.request, urllib.error
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "jenkins_double.py")
TOKEN = "admin:tok"

FOLDER = "<com.cloudbees.hudson.plugins.folder.Folder><description>f</description></com.cloudbees.hudson.plugins.folder.Folder>"
EXTERNAL = "<hudson.model.ExternalJob><description>runs</description></hudson.model.ExternalJob>"


def project(label="gh-release", params=("github_release_tag",), concurrent=True, disabled=False):
    pd = "".join("<hudson.model.StringParameterDefinition><name>%s</name><defaultValue/></hudson.model."
                 "StringParameterDefinition>" % p for p in params)
    props = "<hudson.model.ParametersDefinitionProperty><parameterDefinitions>%s</parameterDefinitions>" \
            "</hudson.model.ParametersDefinitionProperty>" % pd if params else ""
    return ("<project><properties>%s</properties><quietPeriod>0</quietPeriod><canRoam>false</canRoam>"
            "<assignedNode>%s</assignedNode><disabled>%s</disabled><concurrentBuild>%s</concurrentBuild>"
            "<builders><hudson.tasks.Shell><command>exit 1</command></hudson.tasks.Shell></builders></project>"
            % (props, label, str(disabled).lower(), str(concurrent).lower()))


class Double:
    def __init__(self, tmp, *args):
        self.port_file = str(tmp / "port")
        self.log = str(tmp / "requests.jsonl")
        self.proc = subprocess.Popen([sys.executable, DOUBLE, "--port", "0", "--port-file", self.port_file,
                                      "--log", self.log, "--users", "admin:tok,bob:btok:read,carol:ctok:read+build",
                                      "--passwords", "alice:pw"] + list(args),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while not os.path.exists(self.port_file):
            assert time.time() < deadline and self.proc.poll() is None, "double did not start"
            time.sleep(0.02)
        self.port = int(open(self.port_file).read())
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def req(self, method, path, body=None, auth=TOKEN, headers=None):
        r = urllib.request.Request(self.url + path.lstrip("/"), data=body, method=method)
        if auth:
            r.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        for k, v in (headers or {}).items():
            r.add_header(k, v)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(r, timeout=10) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def create(self, path, name, xml):
        st, h, _ = self.req("POST", path + "createItem?name=" + name, xml.encode(),
                            headers={"Content-Type": "application/xml"})
        assert st == 200, (st, h.get("X-Error"))

    def control(self, what, **arg):
        st, _, b = self.req("POST", "_double/" + what, json.dumps(arg).encode(), auth=None)
        assert st == 200
        return json.loads(b)

    def state(self):
        return json.loads(self.req("GET", "_double/state", auth=None)[2])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


@pytest.fixture
def jd(tmp_path):
    d = Double(tmp_path)
    yield d
    d.stop()


def jget(jd, path, auth=TOKEN):
    st, h, b = jd.req("GET", path, auth=auth)
    assert st == 200, (path, st)
    return json.loads(b)


def jtry(jd, path, auth=TOKEN):
    """jget for polling: None until the answer is 200 (a streamed run exists
    only once the double has read the request's head)."""
    st, h, b = jd.req("GET", path, auth=auth)
    return json.loads(b) if st == 200 else None


def wait_for(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    return pred()


# ---------------------------------------------------------------- raw socket helpers
class Stream:
    """One chunked postBuildResult written by hand, chunk by chunk."""
    def __init__(self, jd, job, auth=TOKEN):
        self.s = socket.create_connection(("127.0.0.1", jd.port), timeout=10)
        self.s.sendall(("POST /job/%s/postBuildResult HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Basic %s\r\n"
                        "Content-Type: application/xml; charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n"
                        % (job, jd.port, base64.b64encode(auth.encode()).decode())).encode())

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    def finish(self):
        self.s.sendall(b"0\r\n\r\n")
        return self.response()

    def response(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = self.s.recv(4096)
            if not d:
                break
            buf += d
        self.s.close()
        return int(buf.split(b" ")[1]) if buf else None


def hexs(text):
    return text.encode().hex().upper()


def progressive(jd, job, n, start=0):
    st, h, b = jd.req("GET", "job/%s/%d/logText/progressiveText?start=%d" % (job, n, start))
    assert st == 200
    return b.decode(), int(h["X-Text-Size"]), h.get("X-More-Data")


# ---------------------------------------------------------------- §1 auth and crumbs
def test_auth_headers_and_crumbs(jd):
    st, h, _ = jd.req("GET", "api/json", auth="admin:wrong")
    assert st == 401 and h["WWW-Authenticate"].startswith('Basic realm="Jenkins"') and h["X-Jenkins"] == "2.426.3"
    st, h, _ = jd.req("GET", "queue/api/json", auth=None)
    assert st == 403 and h["X-You-Are-Authenticated-As"] == "anonymous"
    assert h["X-Required-Permission"] == "hudson.model.Hudson.Read" and "WWW-Authenticate" not in h
    # a read-only user lacks Item.Create: 403 names the permission
    st, h, _ = jd.req("POST", "createItem?name=x", FOLDER.encode(), auth="bob:btok",
                      headers={"Content-Type": "application/xml"})
    assert st == 403 and h["X-Required-Permission"] == "hudson.model.Item.Create"
    assert h["X-You-Are-Authenticated-As"] == "bob"
    # token POST: no crumb needed; password POST: crumb + session cookie needed
    jd.create("", "f", FOLDER)
    st, _, _ = jd.req("POST", "createItem?name=g", FOLDER.encode(), auth="alice:pw",
                      headers={"Content-Type": "application/xml"})
    assert st == 403
    st, h, b = jd.req("GET", "crumbIssuer/api/json", auth="alice:pw")
    crumb = json.loads(b)
    cookie = h["Set-Cookie"].split(";")[0]
    st, _, _ = jd.req("POST", "createItem?name=g", FOLDER.encode(), auth="alice:pw",
                      headers={"Content-Type": "application/xml", crumb["crumbRequestField"]: crumb["crumb"],
                               "Cookie": cookie})
    assert st == 200
    st, _, _ = jd.req("POST", "createItem?name=h", FOLDER.encode(), auth="alice:pw",   # crumb without its session
                      headers={"Content-Type": "application/xml", "Jenkins-Crumb": crumb["crumb"]})
    assert st == 403
    # the request log holds one JSON line per request
    # (a line is written after its answer is sent, so under load two requests'
    # lines may swap: look each one up instead of relying on the order)
    lines = [json.loads(l) for l in open(jd.log)]
    assert any(l["status"] == 401 and l["path"] == "/api/json" for l in lines)
    assert any(l["status"] == 403 and l["path"] == "/queue/api/json" for l in lines)
    assert any(l["path"] == "/createItem" and l["body_bytes"] > 0 for l in lines)


# ---------------------------------------------------------------- python-jenkins cross-check
def test_python_jenkins_nodes_jobs_queue_and_builds(jd):
    import jenkins
    J = jenkins.Jenkins(jd.url, username="admin", password="tok", timeout=10)
    J.create_node("agent-1", numExecutors=1, nodeDescription="C agent", remoteFS="/var/lib/da",
                  labels="gh-release agent-1", exclusive=True, launcher=jenkins.LAUNCHER_JNLP)
    info = J.get_node_info("agent-1")
    assert info["offline"] is True and info["temporarilyOffline"] is False
    with pytest.raises(jenkins.JenkinsException):
        J.create_node("agent-1")
    J.create_job("A", jenkins.EMPTY_FOLDER_XML)
    J.create_job("A/trigger", project())
    J.create_job("A/trigger-runs", EXTERNAL)
    assert J.job_exists("A/trigger")
    qid = J.build_job("A/trigger", {"github_release_tag": "v1"})
    assert isinstance(qid, int)
    items = wait_for(lambda: [i for i in J.get_queue_info() if i["id"] == qid and i["buildable"]])
    assert items[0]["why"] == "\u2018agent-1\u2019 is offline" and items[0]["stuck"] is True
    assert J.get_queue_item(qid)["task"]["name"] == "trigger"
    # Jenkins >= 2.211 answers 204 without Content-Length; python-jenkins 1.4 treats that as an empty
    # response (EmptyResponseException) although the item is cancelled.  Real Jenkins does the same.
    try:
        J.cancel_queue(qid)
    except jenkins.EmptyResponseException:
        pass
    assert J.get_queue_item(qid)["cancelled"] is True
    # a run recorded with postBuildResult, read back with python-jenkins
    s = Stream(jd, "A/job/trigger-runs")
    s.chunk('<run><log encoding="hexBinary" content-encoding="UTF-8">%s<!---->' % hexs("hello\n"))
    s.chunk("</log><result>0</result><duration>1234</duration><displayName>#q%d v1</displayName>"
            "<description>queue %d</description></run>" % (qid, qid))
    assert s.finish() == 200
    b = J.get_build_info("A/trigger-runs", 1)
    assert (b["result"], b["building"], b["duration"], b["displayName"]) == ("SUCCESS", False, 1234, "#q%d v1" % qid)
    assert b["description"] == "queue %d" % qid
    out = J.get_build_console_output("A/trigger-runs", 1)
    assert out.startswith("Started\nRunning as admin\nhello\n") and out.endswith("Finished: SUCCESS\n")


def test_jenkins_jobs_update(jd, tmp_path):
    (tmp_path / "jobs.yaml").write_text("""
- job: {name: agents, project-type: folder, description: 'Folder for C-agent tests'}
- job:
    name: agents/build-release
    project-type: freestyle
    node: c-agent
    concurrent: true
    parameters:
      - string: {name: github_release_tag, default: '', description: 'Tag'}
    builders:
      - shell: 'exit 1'
- job: {name: agents/build-release-runs, project-type: externaljob, description: 'Runs'}
""")
    (tmp_path / "jjb.ini").write_text("[job_builder]\nignore_cache=True\n[jenkins]\nuser=admin\npassword=tok\n"
                                      "url=%s\nquery_plugins_info=False\n" % jd.url)
    env = dict(os.environ, HOME=str(tmp_path))
    for _ in range(2):                       # create, then update in place
        r = subprocess.run(["/usr/bin/jenkins-jobs", "--conf", str(tmp_path / "jjb.ini"), "update",
                            str(tmp_path / "jobs.yaml")], capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 0, r.stderr
    jobs = jd.state()["jobs"]
    assert jobs["agents"]["type"] == "folder" and jobs["agents/build-release"]["type"] == "freestyle"
    assert jobs["agents/build-release-runs"]["type"] == "external"
    st, h, _ = jd.req("POST", "job/agents/job/build-release/buildWithParameters?github_release_tag=v2")
    assert st == 201
    posts = [json.loads(l) for l in open(jd.log) if '"POST"' in l]
    assert any(p["path"].endswith("/config.xml") and p["status"] == 200 for p in posts)


# ---------------------------------------------------------------- §2 nodes
def test_nodes_offline_toggle_config_delete(jd):
    form = "name=n1&type=hudson.slaves.DumbSlave&json=" + urllib.request.quote(json.dumps(
        {"nodeDescription": "d", "numExecutors": 1, "remoteFS": "/x", "labelString": "gh-release", "mode": "EXCLUSIVE",
         "launcher": {"stapler-class": "hudson.slaves.JNLPLauncher"}}))
    hdr = {"Content-Type": "application/x-www-form-urlencoded"}
    st, h, _ = jd.req("POST", "computer/doCreateItem", form.encode(), headers=hdr)
    assert st == 302 and h["Location"].endswith("/computer/")
    st, h, _ = jd.req("POST", "computer/doCreateItem", form.encode(), headers=hdr)
    assert st == 400 and h["X-Error"].startswith("Agent called ")
    assert jd.req("GET", "computer/nope/api/json")[0] == 404
    assert jd.req("GET", "computer/n1/toggleOffline")[0] == 405
    # a user without the permission: 403 names the one this action checks (§0.1)
    for path, perm in (("computer/doCreateItem", "Create"), ("computer/n1/changeOfflineCause", "Disconnect"),
                       ("computer/n1/toggleOffline", "Disconnect"), ("computer/n1/doDelete", "Delete"),
                       ("computer/n1/config.xml", "Configure")):
        st, h, _ = jd.req("POST", path, form.encode(), auth="bob:btok", headers=hdr)
        assert (st, h["X-Required-Permission"]) == (403, "hudson.model.Computer." + perm), path
    st, h, _ = jd.req("GET", "computer/n1/config.xml", auth="bob:btok")
    assert (st, h["X-Required-Permission"]) == (403, "hudson.model.Computer.ExtendedRead")
    st, h, _ = jd.req("POST", "computer/n1/changeOfflineCause?offlineMessage=draining", b"")
    assert st == 302
    n = jget(jd, "computer/n1/api/json")
    assert n["offline"] and n["temporarilyOffline"] and n["offlineCauseReason"] == "draining"
    assert n["offlineCause"]["description"] == "Disconnected by admin : draining"
    st, h, _ = jd.req("POST", "computer/n1/toggleOffline", b"", auth="bob:btok")   # clearing it needs CONNECT
    assert (st, h["X-Required-Permission"]) == (403, "hudson.model.Computer.Connect")
    jd.req("POST", "computer/n1/toggleOffline?offlineMessage=ignored", b"")
    n = jget(jd, "computer/n1/api/json?tree=offline,temporarilyOffline")
    assert n == {"_class": "hudson.slaves.SlaveComputer", "offline": True, "temporarilyOffline": False}
    # config.xml round trip; posting it without temporaryOfflineCause brings the node back (>= 2.482 rule off here)
    st, _, xml = jd.req("GET", "computer/n1/config.xml")
    assert st == 200 and b"<label>gh-release</label>" in xml
    st, _, _ = jd.req("POST", "computer/n1/config.xml", xml.replace(b"gh-release", b"gh-release other"),
                      headers={"Content-Type": "application/xml"})
    assert st == 200 and {"name": "other"} in jget(jd, "computer/n1/api/json")["assignedLabels"]
    assert jd.req("POST", "computer/n1/doDelete", b"")[0] == 302
    assert jd.req("GET", "computer/n1/api/json")[0] == 404


# ---------------------------------------------------------------- §3, §4, §5 jobs, triggering, queue
def test_jobs_trigger_and_queue(jd):
    jd.create("", "A", FOLDER)
    st, h, _ = jd.req("POST", "createItem?name=a", FOLDER.encode(), headers={"Content-Type": "application/xml"})
    assert st == 400 and h["X-Error"].startswith("A job already exists with the name")
    jd.create("job/A/", "rel", project())
    jd.create("job/A/", "plain", project(params=()))
    jd.create("job/A/", "off", project(disabled=True))
    assert jd.req("GET", "job/A/job/rel/buildWithParameters")[0] == 405
    assert jd.req("POST", "job/A/job/plain/buildWithParameters", b"")[0] == 400
    assert jd.req("POST", "job/A/job/off/buildWithParameters?github_release_tag=x", b"")[0] == 409
    st, h, _ = jd.req("POST", "job/A/job/rel/buildWithParameters?github_release_tag=v1&delay=0sec", b"")
    assert st == 201 and h["Location"] == jd.url + "queue/item/1/"
    st, h, _ = jd.req("POST", "job/A/job/rel/buildWithParameters?github_release_tag=v1", b"")
    assert st == 303 and h["Location"] == jd.url + "queue/item/1/"
    st, h, _ = jd.req("POST", "job/A/job/rel/buildWithParameters?github_release_tag=v2&delay=60sec", b"")
    assert st == 201
    q = jget(jd, "queue/api/json?tree=items[id,why,stuck,params,task[fullName]]")
    items = {i["id"]: i for i in q["items"]}
    assert items[2]["why"].startswith("In the quiet period. Expires in")
    assert items[2]["params"] == "\ngithub_release_tag=v2" and items[2]["task"]["fullName"] == "A/rel"
    assert set(items[1]) == {"_class", "id", "why", "stuck", "params", "task"}
    # the why strings of §5.3 (no nodes -> label is ignored; then none of the label; one; several)
    assert wait_for(lambda: jtry(jd, "queue/item/1/api/json")["why"] == "Waiting for next available executor")
    node = "<slave><name>%s</name><label>%s</label><numExecutors>1</numExecutors></slave>"
    jd.req("POST", "computer/doCreateItem", ("name=n1&type=hudson.slaves.DumbSlave&json=" + urllib.request.quote(
        json.dumps({"labelString": "other"}))).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert jget(jd, "queue/item/1/api/json")["why"] == "There are no nodes with the label \u2018gh-release\u2019"
    jd.req("POST", "computer/n1/config.xml", (node % ("n1", "gh-release")).encode())
    assert jget(jd, "queue/item/1/api/json")["why"] == "\u2018n1\u2019 is offline"
    jd.req("POST", "computer/doCreateItem", ("name=n2&type=hudson.slaves.DumbSlave&json=" + urllib.request.quote(
        json.dumps({"labelString": "gh-release"}))).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    i = jget(jd, "queue/item/1/api/json")
    assert i["why"] == "All nodes of label \u2018gh-release\u2019 are offline" and i["stuck"] is True
    assert i["_class"] == "hudson.model.Queue$BuildableItem" and "fullName" not in i["task"]
    job = jget(jd, "job/A/job/rel/api/json?tree=name,inQueue")
    assert job == {"_class": "hudson.model.FreeStyleProject", "name": "rel", "inQueue": True}
    # config.xml GET/POST
    st, _, x = jd.req("GET", "job/A/job/rel/config.xml")
    assert st == 200 and b"<assignedNode>gh-release</assignedNode>" in x
    st, _, _ = jd.req("POST", "job/A/job/rel/config.xml", EXTERNAL.encode(), headers={"Content-Type": "text/xml"})
    assert st == 500                          # a different root class


# ---------------------------------------------------------------- §6 cancelItem
def test_cancel_item_codes(jd):
    jd.create("", "rel", project())
    jd.req("POST", "job/rel/buildWithParameters?github_release_tag=v1", b"")
    assert jd.req("GET", "queue/cancelItem?id=1")[0] == 405
    st, h, b = jd.req("POST", "queue/cancelItem?id=99", b"")
    assert st == 404 and b"Oops!" in b and b"HTTP ERROR" not in b   # HttpResponses.error, not Jetty's page
    # the deprecated cancelQueue: 204 whatever happened, a no-op without Item.CANCEL, 404 for no item
    assert jd.req("POST", "queue/item/1/cancelQueue", b"", auth="bob:btok")[0] == 204
    assert jget(jd, "queue/item/1/api/json")["_class"] != "hudson.model.Queue$LeftItem"
    assert jd.req("POST", "queue/item/99/cancelQueue", b"")[0] == 404
    assert jd.req("POST", "queue/cancelItem?id=1", b"", auth="bob:btok")[0] == 422
    jd.control("faults", cancel_500=1)
    assert jd.req("POST", "queue/cancelItem?id=1", b"")[0] == 500      # stale object: still queued
    assert jget(jd, "queue/item/1/api/json")["_class"] != "hudson.model.Queue$LeftItem"
    st, h, b = jd.req("POST", "queue/cancelItem?id=1", b"", auth="carol:ctok")   # Item.Build implies Cancel
    assert st == 204 and b == b"" and "Content-Length" not in h
    assert jd.req("POST", "queue/cancelItem?id=1", b"")[0] == 500
    left = jget(jd, "queue/item/1/api/json")
    assert left["cancelled"] is True and left["executable"] is None and left["why"] is None
    # a JVM executor took item 2: cancelItem -> 500, the left item names the build
    jd.req("POST", "job/rel/buildWithParameters?github_release_tag=v2", b"")
    jd.control("queue/start", id=2)
    assert jd.req("POST", "queue/cancelItem?id=2", b"")[0] == 500
    assert jget(jd, "queue/item/2/api/json")["executable"]["number"] == 1
    # left items expire (5 minutes in Jenkins; shortened here)
    jd.control("mode", left_ttl=0)
    jd.control("maintain")
    assert jd.req("POST", "queue/cancelItem?id=1", b"")[0] == 404
    # the pre-2.211 mode: always 302
    jd.control("mode", cancel_302=True)
    jd.req("POST", "job/rel/buildWithParameters?github_release_tag=v3", b"")
    st, h, _ = jd.req("POST", "queue/cancelItem?id=3", b"")
    assert st == 302 and h["Location"] == jd.url + "queue/"
    assert jd.req("POST", "queue/cancelItem?id=3", b"")[0] == 302


def test_old_version_mode(tmp_path):
    d = Double(tmp_path, "--version", "2.204.1")
    try:
        d.create("", "rel", project())
        st, h, _ = d.req("POST", "job/rel/buildWithParameters?github_release_tag=v1", b"")
        assert h["X-Jenkins"] == "2.204.1"
        st, h, _ = d.req("POST", "job/rel/buildWithParameters?github_release_tag=v1", b"")
        assert st == 201                      # 303 only since 2.308
        # 2.121.2 - 2.210: 302 to the Referer whatever happened; without Item.CANCEL nothing is cancelled
        st, h, _ = d.req("POST", "queue/cancelItem?id=1", b"", auth="bob:btok", headers={"Referer": d.url + "x"})
        assert (st, h["Location"]) == (302, d.url + "x") and "cancelled" not in jget(d, "queue/item/1/api/json")
        st, h, _ = d.req("POST", "queue/cancelItem?id=1", b"", headers={"Referer": d.url + "x"})
        assert (st, h["Location"]) == (302, d.url + "x")
        assert d.req("GET", "queue/item/1/api/json")[2] and json.loads(d.req("GET", "queue/item/1/api/json")[2])[
            "cancelled"] is True
    finally:
        d.stop()


def test_concurrent_cancel_exactly_one_204(jd):
    jd.create("", "rel", project())
    jd.req("POST", "job/rel/buildWithParameters?github_release_tag=v1", b"")
    jd.control("faults", cancel_race_ms=50)   # widen the snapshot -> lock window
    results = []

    def claim():
        s = socket.create_connection(("127.0.0.1", jd.port), timeout=10)
        s.sendall(b"POST /queue/cancelItem?id=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"
                  b"Content-Length: 0\r\n\r\n" % base64.b64encode(TOKEN.encode()))
        results.append(int(s.recv(4096).split(b" ")[1]))
        s.close()
    ts = [threading.Thread(target=claim) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert sorted(results).count(204) == 1 and len(results) == 8
    assert set(results) <= {204, 500}


# ---------------------------------------------------------------- §7, §8 postBuildResult streaming
def test_stream_log_visible_before_request_ends(jd):
    jd.create("", "runs", EXTERNAL)
    s = Stream(jd, "runs")
    s.chunk('<run><log encoding="hexBinary" content-encoding="UTF-8">')
    r = wait_for(lambda: jtry(jd, "job/runs/lastBuild/api/json"))
    assert r["building"] and r["result"] is None and r["number"] == 1 and r["duration"] == 0
    s.chunk(hexs("line 1\n") + "<!---->")     # markup follows: visible at once
    text, size, more = wait_for(lambda: (lambda t: "line 1" in t[0] and t)(progressive(jd, "runs", 1)))
    assert more == "true" and text.endswith("line 1\r\n") and "\r\n" in text
    s.chunk(hexs("partial"))                  # no newline: not sent while running
    s.chunk("<!---->")
    assert wait_for(lambda: "partial" in jd.state()["jobs"]["runs"]["runs"][0]["log"])
    # only complete lines while in progress; <= 2.508: X-Text-Size is just after the data sent
    assert progressive(jd, "runs", 1, size) == ("", size, "true")
    jd.control("mode", progressive_2509=True)   # >= 2.509: X-Text-Size is the file length
    t2, size2, _ = progressive(jd, "runs", 1, size)
    assert t2 == "" and size2 == size + len("partial")
    jd.control("mode", progressive_2509=False)
    s.chunk(hexs(" end\n") + "<!---->")
    s.chunk("</log><result>UNSTABLE</result></run>")
    assert s.finish() == 200
    text, _, more = progressive(jd, "runs", 1)
    assert more is None and "partial end\r\n" in text and text.endswith("Finished: UNSTABLE\r\n")
    assert jget(jd, "job/runs/1/api/json")["result"] == "UNSTABLE"


def test_stream_held_back_trailing_text(jd):
    jd.create("", "runs", EXTERNAL)
    s = Stream(jd, "runs")
    s.chunk('<run><log encoding="hexBinary">')
    s.chunk(hexs("one\n"))                    # bare hex at the end of the received data: held back
    time.sleep(0.5)
    assert "one" not in jd.state()["jobs"]["runs"]["runs"][0]["log"]
    s.chunk(hexs("two\n"))                    # the next bytes release it, together with the new text
    log = wait_for(lambda: (lambda l: "one" in l and l)(jd.state()["jobs"]["runs"]["runs"][0]["log"]))
    assert "one\ntwo\n" in log
    s.chunk(hexs("three\n") + "<!---->")      # markup follows: no lag
    assert wait_for(lambda: "three" in jd.state()["jobs"]["runs"]["runs"][0]["log"])
    s.chunk("</log><result>0</result></run>")
    assert s.finish() == 200


def test_stream_whitespace_corrupts_and_update_permission(jd):
    jd.create("", "runs", EXTERNAL)
    s = Stream(jd, "runs")
    s.chunk('<run><log encoding="hexBinary">%s\n%s<!---->' % (hexs("ab\n"), hexs("cd\n")))
    s.chunk("</log><result>0</result></run>")
    assert s.finish() == 200
    log = jd.state()["jobs"]["runs"]["runs"][0]["consoleText"]
    assert "ab\n" in log and "cd\n" not in log   # the newline shifted every later pair
    # carol may build but lacks Run.UPDATE: the run ends FAILURE while HTTP says 200
    s = Stream(jd, "runs", auth="carol:ctok")
    s.chunk('<run><log encoding="hexBinary">%s<!----></log><result>0</result><displayName>x</displayName></run>'
            % hexs("ok\n"))
    assert s.finish() == 200
    r = jget(jd, "job/runs/2/api/json")
    assert r["result"] == "FAILURE" and r["displayName"] == "#2"
    # bob lacks Item.BUILD: 403 before any body is read
    s = Stream(jd, "runs", auth="bob:btok")
    assert s.response() == 403


def test_stream_result_is_parsed_as_jenkins_does(jd):
    """<result>: Integer.parseInt (no whitespace), else Result.fromString (any case), else FAILURE."""
    jd.create("", "runs", EXTERNAL)
    for n, (sent, want) in enumerate((("0", "SUCCESS"), (" 0", "FAILURE"), ("1", "FAILURE"),
                                      ("aborted", "ABORTED"), ("4294967296", "FAILURE"), ("OK", "FAILURE")), 1):
        s = Stream(jd, "runs")
        s.chunk('<run><log encoding="hexBinary">%s<!----></log><result>%s</result></run>' % (hexs("x\n"), sent))
        assert s.finish() == 200
        assert jget(jd, "job/runs/%d/api/json" % n)["result"] == want, sent


def test_stream_idle_timeout_and_disconnect_fail_the_run(jd):
    jd.create("", "runs", EXTERNAL)
    jd.control("mode", idle_timeout=0.5)
    s = Stream(jd, "runs")
    s.chunk('<run><log encoding="hexBinary">%s<!---->' % hexs("x\n"))
    assert s.response() == 200               # the servlet still answers 200
    r = wait_for(lambda: (lambda r: not r["building"] and r)(jget(jd, "job/runs/1/api/json")))
    assert r["result"] == "FAILURE"
    _, _, log = jd.req("GET", "job/runs/1/consoleText")
    assert b"Idle timeout expired" in log and log.endswith(b"Finished: FAILURE\n")
    jd.control("mode", idle_timeout=30)
    s = Stream(jd, "runs")
    s.chunk('<run><log encoding="hexBinary">%s<!---->' % hexs("y\n"))
    time.sleep(0.2)
    s.s.close()                               # client gone
    assert wait_for(lambda: jtry(jd, "job/runs/2/api/json")["result"] == "FAILURE")


# ---------------------------------------------------------------- faults
def test_faults_503_drop_restart(jd):
    jd.create("", "runs", EXTERNAL)
    jd.control("faults", status503=2)
    assert [jd.req("GET", "api/json")[0] for _ in range(3)] == [503, 503, 200]
    jd.control("faults", drop=1)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(urllib.request.Request(jd.url + "api/json", headers={
            "Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()}), timeout=5)
    jd.control("faults", slow=1, delay_ms=300)
    t = time.time()
    assert jd.req("GET", "api/json")[0] == 200 and time.time() - t >= 0.3
    s = Stream(jd, "runs")
    s.chunk('<run><log encoding="hexBinary">%s<!---->' % hexs("lost\n"))
    assert wait_for(lambda: jtry(jd, "job/runs/1/api/json"))["building"] is True   # else the 404 below proves nothing
    session = jd.req("GET", "api/json")[1]["X-Jenkins-Session"]
    jd.control("restart", down_ms=300)
    assert jd.req("GET", "api/json")[0] == 503
    assert wait_for(lambda: jd.req("GET", "api/json")[0] == 200)
    assert jd.req("GET", "job/runs/1/api/json")[0] == 404      # the in-progress run is gone
    assert jd.req("GET", "api/json")[1]["X-Jenkins-Session"] != session
    assert jget(jd, "job/runs/api/json")["nextBuildNumber"] == 2


def test_state_file_survives_a_process_restart(tmp_path):
    state = str(tmp_path / "state.json")
    d = Double(tmp_path, "--state", state)
    try:
        d.create("", "runs", EXTERNAL)
        d.create("", "rel", project())
        d.req("POST", "job/rel/buildWithParameters?github_release_tag=v1", b"")
        s = Stream(d, "runs")
        s.chunk('<run><log encoding="hexBinary">%s<!----></log><result>0</result></run>' % hexs("kept\n"))
        assert s.finish() == 200
    finally:
        d.stop()
    os.remove(d.port_file)
    d = Double(tmp_path, "--state", state)
    try:
        assert b"kept" in d.req("GET", "job/runs/1/consoleText")[2]
        assert jget(d, "queue/item/1/api/json")["task"]["name"] == "rel"   # queue.xml is restored
        assert jget(d, "job/runs/api/json")["nextBuildNumber"] == 2
    finally:
        d.stop()
