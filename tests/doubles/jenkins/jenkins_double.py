#!/usr/bin/python3
"""A Jenkins test double for dataops-agent (standard library only).

Every behaviour cites the section of shared/reference/jenkins-api.md ("§n")
it reproduces.  See README.md next to this file for the control endpoints.
"""
import argparse, base64, codecs, hashlib, html, json, os, re, secrets, socket
import sys, threading, time, traceback, uuid
import xml.etree.ElementTree as ET
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ESC = "\x1b"
NOTE_RE = re.compile(rb"\x1b\[8mha:[^\x1b]*\x1b\[0m")        # console notes, §8.1
RESULTS = ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"]
LQ, RQ = "\u2018", "\u2019"                                   # curly quotes, §5.3

# Permissions (§0.1 IDs).  'build' implies 'cancel' (Item.CANCEL is implied by Item.BUILD).
PERMS = {"read": "hudson.model.Hudson.Read", "create": "hudson.model.Item.Create",
         "configure": "hudson.model.Item.Configure", "build": "hudson.model.Item.Build",
         "cancel": "hudson.model.Item.Cancel", "update": "hudson.model.Run.Update",
         "computer": "hudson.model.Computer.Configure"}
IMPLIED_BY = {"read": ["hudson.security.Permission.GenericRead", "hudson.model.Hudson.Administer"],
              "cancel": ["hudson.model.Item.Build", "hudson.model.Hudson.Administer"]}


def vtuple(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def now_ms():
    return int(time.time() * 1000)


def java_numeric(b):
    """Character.getNumericValue for one byte as Java's FilterOutputStream passes it (signed)."""
    if 48 <= b <= 57:
        return b - 48
    if 65 <= b <= 90:
        return b - 55
    if 97 <= b <= 122:
        return b - 87
    return -1


def util_escape(s):
    """hudson.Util.escape, used for offlineCauseReason (§2.5)."""
    out, last = [], None
    for c in s:
        if c == " " and last == " ":
            out.append("&nbsp;")
        else:
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#039;",
                        "\n": "<br>"}.get(c, c))
        last = c
    return "".join(out)


def check_good_name(name):
    """Jenkins.checkGoodName (§3.1 step 3) -> error message or None."""
    if not name:
        return "No name is specified"
    for c in name:
        if ord(c) < 32:
            return "%s is an unsafe character" % ("\\u%04x" % ord(c))
        if c in "?*/\\%!@#$^&|<>[]:;":
            return "%s%s%s is an unsafe character" % (LQ, c, RQ)
    if name in (".", ".."):
        return "%s is not an allowed name" % name
    if name.endswith("."):
        return "A name cannot end with %s.%s" % (LQ, RQ)
    return None


def time_span(ms):
    """hudson.Util.getTimeSpanString for the quiet-period `why` (§5.3)."""
    s = ms // 1000
    if s >= 60:
        return "%d min" % (s // 60)
    if s >= 10:
        return "%d sec" % s
    if s >= 1:
        return "%s sec" % (s + (ms % 1000 // 100) / 10)
    if ms >= 100:
        return "%s sec" % ((ms // 10) / 100)
    return "%d ms" % ms


# ---------------------------------------------------------------- tree= (§5.1)
def parse_tree(spec):
    """'a,b[c,d]{0,2}' -> {name: (subtree|None, (lo, hi)|None)}"""
    pos = 0

    def parse_list():
        nonlocal pos
        out = {}
        while pos < len(spec):
            m = re.compile(r"[^,\[\]{}]*").match(spec, pos)
            name = m.group(0).strip()
            pos = m.end()
            sub, rng = None, None
            if pos < len(spec) and spec[pos] == "[":
                pos += 1
                sub = parse_list()
                if pos < len(spec) and spec[pos] == "]":
                    pos += 1
            if pos < len(spec) and spec[pos] == "{":
                end = spec.index("}", pos)
                parts = spec[pos + 1:end].split(",")
                lo = int(parts[0]) if parts[0].strip() else 0
                hi = (int(parts[1]) if len(parts) > 1 and parts[1].strip() else None) \
                    if len(parts) > 1 else lo + 1
                rng = (lo, hi)
                pos = end + 1
            if name:
                out[name] = (sub, rng)
            if pos < len(spec) and spec[pos] == ",":
                pos += 1
                continue
            break
        return out
    return parse_list()


def apply_tree(obj, tree):
    if isinstance(obj, list):
        return [apply_tree(x, tree) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {"_class": obj["_class"]} if "_class" in obj else {}
    if tree.get("*"):                       # internal: keep everything at this level
        return dict(obj)
    for name, (sub, rng) in tree.items():
        if name not in obj:
            continue
        v = obj[name]
        if isinstance(v, list):
            if rng:
                v = v[rng[0]:rng[1]]
            v = [apply_tree(x, sub or {}) if isinstance(x, dict) else x for x in v]
        elif isinstance(v, dict):
            v = apply_tree(v, sub or {})
        out[name] = v
    return out


# ---------------------------------------------------------------- model
class Node:
    def __init__(self, name):
        self.name, self.description, self.remote_fs = name, "", ""
        self.num_executors, self.mode, self.labels = 1, "NORMAL", ""
        self.launcher = "hudson.slaves.JNLPLauncher"
        self.offline_cause = None            # (user, message, timestamp) when temporarily offline

    def label_set(self):
        return set(self.labels.split()) | {self.name}

    def to_xml(self):
        e = html.escape
        cause = ""
        if self.offline_cause:
            cause = ("  <temporaryOfflineCause class=\"hudson.slaves.OfflineCause$UserCause\">\n"
                     "    <timestamp>%d</timestamp>\n    <description><holder><owner>hudson.slaves.Messages</owner></holder>"
                     "<key>SlaveComputer.DisconnectedBy</key><args><string>%s</string><string> : %s</string></args></description>\n"
                     "    <userId>%s</userId>\n  </temporaryOfflineCause>\n"
                     % (self.offline_cause[2], e(self.offline_cause[0]), e(self.offline_cause[1]), e(self.offline_cause[0])))
        return ("<?xml version='1.1' encoding='UTF-8'?>\n<slave>\n  <name>%s</name>\n  <description>%s</description>\n"
                "  <remoteFS>%s</remoteFS>\n  <numExecutors>%d</numExecutors>\n  <mode>%s</mode>\n"
                "  <retentionStrategy class=\"hudson.slaves.RetentionStrategy$Always\"/>\n"
                "  <launcher class=\"%s\"/>\n  <label>%s</label>\n  <nodeProperties/>\n%s</slave>"
                % (e(self.name), e(self.description), e(self.remote_fs), self.num_executors, self.mode,
                   e(self.launcher), e(self.labels), cause))


class Run:
    def __init__(self, job, number, kind="hudson.model.ExternalRun"):
        self.job, self.number, self.kind = job, number, kind
        self.timestamp, self.building, self.result = now_ms(), True, None
        self.duration, self.display_name, self.description = 0, None, None
        self.charset, self.log = None, bytearray()
        self.lock = threading.Lock()

    def write(self, data):
        with self.lock:
            self.log += data

    def snapshot(self):
        with self.lock:
            return bytes(self.log), self.building


class Job:
    """A folder, a FreeStyle project or an ExternalJob, defined by its config.xml (§3)."""
    CLASSES = {"com.cloudbees.hudson.plugins.folder.Folder": "folder", "project": "freestyle",
               "hudson.model.FreeStyleProject": "freestyle", "hudson.model.ExternalJob": "external"}
    JCLASS = {"folder": "com.cloudbees.hudson.plugins.folder.Folder",
              "freestyle": "hudson.model.FreeStyleProject", "external": "hudson.model.ExternalJob"}

    def __init__(self, name, parent, xml_text):
        self.name, self.parent = name, parent
        self.children = {}                   # folders: lower-case name -> Job
        self.runs, self.next_number = {}, 1
        self.kind = None
        self.configure(xml_text)

    def configure(self, xml_text):
        root = ET.fromstring(xml_text.encode("utf-8") if isinstance(xml_text, str) else xml_text)
        kind = self.CLASSES.get(root.tag)
        if kind is None:
            raise ValueError("Unable to read: unknown class %s" % root.tag)
        if self.kind and kind != self.kind:
            raise ValueError("Expecting class %s but got %s" % (self.JCLASS[self.kind], self.JCLASS[kind]))
        self.kind, self.xml = kind, xml_text if isinstance(xml_text, str) else xml_text.decode("utf-8")
        t = lambda tag, d="": (root.findtext(tag) or d).strip()
        self.description = root.findtext("description")
        self.disabled = t("disabled") == "true"
        self.can_roam = t("canRoam", "true") != "false"
        self.label = t("assignedNode") or None
        self.concurrent = t("concurrentBuild") == "true"
        self.quiet = int(t("quietPeriod", "5") or 5)
        self.params = []                     # [(class, name, default)]
        for pd in root.iterfind(".//hudson.model.ParametersDefinitionProperty/parameterDefinitions/*"):
            dflt = pd.findtext("defaultValue")
            if pd.tag.endswith("ChoiceParameterDefinition"):
                ch = [s.text or "" for s in pd.iterfind(".//string")]
                dflt = ch[0] if ch else ""
            self.params.append((pd.tag.replace("Definition", "Value"), pd.findtext("name") or "",
                                dflt if dflt is not None else ""))

    def full_name(self):
        if self.parent is None or self.parent.parent is None:
            return self.name
        return self.parent.full_name() + "/" + self.name

    def url_path(self):
        p = self.parent.url_path() if self.parent and self.parent.name else ""
        return p + "job/" + quote(self.name) + "/"

    def assigned_label(self):
        return None if self.can_roam else self.label   # AbstractProject.getAssignedLabel (§3.2)


class QItem:
    """One Queue.Item object.  Stage changes create a new object with the same id (§5.2)."""
    def __init__(self, id, job, params, user, stage, due=0, since=None, prev=None):
        self.id, self.job, self.params, self.user, self.stage = id, job, params, user, stage
        self.due = due                        # WaitingItem.timestamp
        self.since = prev.since if prev else (since or now_ms())
        self.buildable_start = prev.buildable_start if prev and prev.buildable_start else \
            (now_ms() if stage in ("blocked", "buildable") else None)
        self.cancelled, self.executable, self.left_at = False, None, None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, opts):
        super().__init__(addr, Handler)
        self.opts = opts
        self.lock = threading.RLock()         # model lock
        self.qlock = threading.Lock()         # Queue lock (§6.2)
        self.users = {}                       # name -> {"token", "password", "perms"}
        for spec in filter(None, (opts.users or "").split(",")):
            name, tok, *perms = spec.split(":")
            self.users[name] = {"token": tok, "password": None,
                                "perms": set(perms[0].split("+")) if perms else {"all"}}
        for spec in filter(None, (opts.passwords or "").split(",")):
            name, pw, *perms = spec.split(":")
            u = self.users.setdefault(name, {"token": None, "password": None,
                                             "perms": set(perms[0].split("+")) if perms else {"all"}})
            u["password"] = pw
        self.version = opts.version
        v = vtuple(self.version)
        self.mode = {"cancel_302": v < (2, 211), "anonymous_read": opts.anonymous_read,
                     "csrf": not opts.no_csrf, "left_ttl": 300.0,
                     "idle_timeout": opts.idle_timeout if opts.idle_timeout is not None
                     else (30.0 if v >= (2, 375) else 5.0),
                     "progressive_2509": v >= (2, 509), "maintain_interval": 5.0}
        self.faults = {}
        self.root = Job("", None, "<com.cloudbees.hudson.plugins.folder.Folder/>")
        self.nodes, self.queue, self.left, self.next_qid = {}, [], {}, 1
        self.streams = set()                  # sockets of open postBuildResult requests
        self.requests_log, self.log_lock = [], threading.Lock()
        self.salt = secrets.token_hex(8)
        self.session_id = secrets.token_hex(4)
        self.down_until = 0.0
        if opts.state and os.path.exists(opts.state):
            self.load_state()
        threading.Thread(target=self.maintain_loop, daemon=True).start()

    # -------- queue maintenance (§5.2): stage changes make new objects with the same id
    def maintain_loop(self):
        while True:
            time.sleep(min(0.1, self.mode["maintain_interval"]))
            t = time.time()
            due = any(i.stage == "waiting" and i.due <= now_ms() for i in self.queue)
            if due or t - getattr(self, "_last_maintain", 0) >= self.mode["maintain_interval"]:
                self.maintain()

    def maintain(self):
        with self.qlock:
            self._last_maintain = time.time()
            new = []
            for it in self.queue:
                if it.stage == "waiting" and it.due > now_ms():
                    new.append(it)
                    continue
                busy = any(o.job is it.job and o.stage == "buildable" for o in new)
                stage = "blocked" if (not it.job.concurrent and busy) else "buildable"
                if it.stage == "buildable" and stage == "buildable":
                    new.append(it)           # buildables stay the same object
                else:
                    new.append(QItem(it.id, it.job, it.params, it.user, stage, prev=it))
            self.queue = new
            cutoff = time.time() - self.mode["left_ttl"]
            for k in [k for k, v in self.left.items() if v.left_at < cutoff]:
                del self.left[k]              # LeftItem cache expireAfterWrite (§5.5)
        self.save_state()

    def why(self, it):
        """Item.getWhy (§5.3)."""
        if it.stage == "waiting":
            d = it.due - now_ms()
            return "In the quiet period. Expires in %s" % time_span(d) if d > 0 else "Finished waiting"
        if it.stage == "blocked":
            return "A build is already in progress"
        label = it.job.assigned_label()
        if label is None or not self.nodes:
            return "Waiting for next available executor"
        nodes = [n for n in self.nodes.values() if label in n.label_set()]
        # every node of the double is offline: an HTTP-only agent never connects (§2.1)
        if len(nodes) == 1:
            return "%s%s%s is offline" % (LQ, nodes[0].name, RQ)
        if not nodes:
            return "There are no nodes with the label %s%s%s" % (LQ, label, RQ)
        return "All nodes of label %s%s%s are offline" % (LQ, label, RQ)

    def item_json(self, it, root):
        job = it.job
        cls = {"waiting": "WaitingItem", "blocked": "BlockedItem", "buildable": "BuildableItem",
               "left": "LeftItem"}[it.stage]
        causes = [{"_class": "hudson.model.Cause$UserIdCause", "shortDescription": "Started by user %s" % it.user,
                   "userId": it.user, "userName": it.user}] if it.user != "anonymous" else \
                 [{"_class": "hudson.model.Cause$UserIdCause", "shortDescription": "Started by anonymous user",
                   "userId": None, "userName": "anonymous"}]
        actions = []
        if job.params:
            actions.append({"_class": "hudson.model.ParametersAction", "parameters": [
                {"_class": "hudson.model." + c.split(".")[-1], "name": n, "value": v} for c, n, v in it.params]})
        actions.append({"_class": "hudson.model.CauseAction", "causes": causes})
        d = {"_class": "hudson.model.Queue$" + cls, "actions": actions,
             "blocked": it.stage == "blocked", "buildable": it.stage == "buildable", "id": it.id,
             "inQueueSince": it.since, "params": "".join("\n%s=%s" % (n, v) for c, n, v in it.params),
             "stuck": it.stage == "buildable" and self.label_offline(job.assigned_label()),
             "task": {"_class": Job.JCLASS[job.kind], "name": job.name, "fullName": job.full_name(),
                      "url": root + job.url_path(), "color": "disabled" if job.disabled else "notbuilt"},
             "url": "queue/item/%d/" % it.id,
             "why": None if it.stage == "left" else self.why(it)}
        if it.stage == "waiting":
            d["timestamp"] = it.due
        if it.stage in ("blocked", "buildable"):
            d["buildableStartMilliseconds"] = it.buildable_start
        if it.stage == "buildable":
            d["pending"] = False
        if it.stage == "left":
            d["cancelled"], d["executable"] = it.cancelled, it.executable
        return d

    def label_offline(self, label):
        return label is not None          # every labelled node is offline in the double (§5.3 isStuck)

    def find_item(self, qid):
        for it in self.queue:
            if it.id == qid:
                return it
        return self.left.get(qid)

    # -------- job tree
    def resolve(self, names):
        j = self.root
        for n in names:
            if j.kind != "folder":
                return None
            j = j.children.get(n.lower())     # item lookup is case-insensitive (§3.1)
            if j is None:
                return None
        return j

    def all_jobs(self, j=None):
        j = j or self.root
        for c in j.children.values():
            yield c
            yield from self.all_jobs(c)

    # -------- state (--state FILE, /_double/state)
    def state_json(self, with_logs=True):
        with self.lock:
            jobs = {}
            for j in self.all_jobs():
                jobs[j.full_name()] = {
                    "type": j.kind, "config": j.xml, "nextBuildNumber": j.next_number,
                    "runs": [self.run_state(r, with_logs) for r in sorted(j.runs.values(), key=lambda r: r.number)]}
            nodes = {n.name: {"description": n.description, "labels": n.labels, "numExecutors": n.num_executors,
                              "mode": n.mode, "remoteFS": n.remote_fs, "temporarilyOffline": bool(n.offline_cause),
                              "offlineCause": n.offline_cause and list(n.offline_cause)} for n in self.nodes.values()}
            root = "http://127.0.0.1:%d/" % self.server_address[1]
            return {"version": self.version, "session": self.session_id, "mode": self.mode, "faults": self.faults,
                    "jobs": jobs, "nodes": nodes, "nextQueueId": self.next_qid,
                    "queue": [self.item_json(i, root) for i in self.queue],
                    "left": [self.item_json(i, root) for i in self.left.values()]}

    @staticmethod
    def run_state(r, with_logs):
        log, building = r.snapshot()
        d = {"number": r.number, "class": r.kind, "building": building, "result": r.result,
             "duration": r.duration, "displayName": r.display_name, "description": r.description,
             "timestamp": r.timestamp, "charset": r.charset, "logSize": len(log)}
        if with_logs:
            d["log"] = log.decode("utf-8", "replace")
            d["consoleText"] = NOTE_RE.sub(b"", log).decode("utf-8", "replace")
        return d

    def save_state(self):
        """build.xml is written only when a run completes (§9): in-progress runs are not saved."""
        if not self.opts.state:
            return
        with self.lock:
            st = self.state_json()
            for j in st["jobs"].values():
                j["runs"] = [r for r in j["runs"] if not r["building"]]
            st["queue"] = [{"id": i.id, "job": i.job.full_name(), "params": i.params, "user": i.user,
                            "stage": i.stage, "due": i.due, "since": i.since} for i in self.queue]
            tmp = self.opts.state + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, self.opts.state)

    def load_state(self):
        with open(self.opts.state) as f:
            st = json.load(f)
        for full, j in sorted(st["jobs"].items(), key=lambda kv: kv[0].count("/")):
            *parents, name = full.split("/")
            parent = self.resolve(parents)
            job = Job(name, parent, j["config"])
            job.next_number = j["nextBuildNumber"]
            for r in j["runs"]:
                run = Run(job, r["number"], r["class"])
                run.building, run.result, run.duration = False, r["result"], r["duration"]
                run.display_name, run.description, run.timestamp = r["displayName"], r["description"], r["timestamp"]
                run.charset, run.log = r["charset"], bytearray(r["log"].encode("utf-8"))
                job.runs[run.number] = run
            parent.children[name.lower()] = job
        for name, n in st["nodes"].items():
            node = Node(name)
            node.description, node.labels, node.num_executors = n["description"], n["labels"], n["numExecutors"]
            node.mode, node.remote_fs = n["mode"], n["remoteFS"]
            node.offline_cause = tuple(n["offlineCause"]) if n["offlineCause"] else None
            self.nodes[name] = node
        self.next_qid = st["nextQueueId"]
        for q in st["queue"]:                 # queue.xml is restored after a restart (§5.2)
            job = self.resolve(q["job"].split("/"))
            if job:
                self.queue.append(QItem(q["id"], job, [tuple(p) for p in q["params"]], q["user"],
                                        q["stage"], q["due"], q["since"]))

    def restart(self, down_s):
        """Lose in-progress runs (no build.xml yet, §9), left items (not persisted, §5.5) and open streams."""
        with self.lock:
            for j in self.all_jobs():
                for n in [n for n, r in j.runs.items() if r.building]:
                    del j.runs[n]
            self.left.clear()
            self.session_id = secrets.token_hex(4)
            self.down_until = time.time() + down_s
        self.drop_streams()

    def drop_streams(self):
        for s in list(self.streams):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def record(self, entry):
        with self.log_lock:
            self.requests_log.append(entry)
            del self.requests_log[:-5000]
            if self.opts.log:
                with open(self.opts.log, "a") as f:
                    f.write(json.dumps(entry) + "\n")


class ClientGone(Exception):
    pass


class BodyReader:
    """Reads a request body (Content-Length or chunked) as it arrives: each read returns what one
    socket read made available, like Jetty's ServletInputStream under a non-blocking-once reader (§7.4)."""
    def __init__(self, h):
        self.h, self.raw = h, b""
        te = (h.headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in te
        self.left = None if self.chunked else int(h.headers.get("Content-Length") or 0)
        self.chunk_left, self.done, self.total = 0, False, 0
        self.state = "size"                   # size | data | crlf | trailer

    def _fill(self):
        try:
            data = self.h.rfile.read1(65536)
        except socket.timeout:
            t = self.h.server.mode["idle_timeout"]
            raise TimeoutError("java.util.concurrent.TimeoutException: Idle timeout expired: %d/%d ms"
                               % (t * 1000, t * 1000))
        except OSError as e:
            raise ClientGone("org.eclipse.jetty.io.EofException: %s" % e)
        if not data:
            raise ClientGone("org.eclipse.jetty.io.EofException: Early EOF")
        self.raw += data

    def read_available(self):
        """Blocks until at least one byte is decoded (or returns b'' at the end of the body)."""
        while True:
            if self.done:
                return b""
            if not self.chunked:
                if self.left == 0:
                    self.done = True
                    return b""
                if not self.raw:
                    self._fill()
                out, self.raw = self.raw[:self.left], self.raw[self.left:]
                self.left -= len(out)
                self.total += len(out)
                return out
            out = b""
            while True:
                if self.state == "size":
                    i = self.raw.find(b"\r\n")
                    if i < 0:
                        break
                    line, self.raw = self.raw[:i], self.raw[i + 2:]
                    self.chunk_left = int(line.split(b";")[0].strip() or b"0", 16)
                    self.state = "data" if self.chunk_left else "trailer"
                elif self.state == "data":
                    if not self.raw:
                        break
                    piece, self.raw = self.raw[:self.chunk_left], self.raw[self.chunk_left:]
                    out += piece
                    self.chunk_left -= len(piece)
                    if not self.chunk_left:
                        self.state = "crlf"
                elif self.state == "crlf":
                    if len(self.raw) < 2:
                        break
                    self.raw, self.state = self.raw[2:], "size"
                else:                          # trailer section, ends with an empty line
                    i = self.raw.find(b"\r\n")
                    if i < 0:
                        break
                    line, self.raw = self.raw[:i], self.raw[i + 2:]
                    if not line:
                        self.done = True
                        break
            if out:
                self.total += len(out)
                return out
            if self.done:
                return b""
            self._fill()

    def read_all(self, limit=64 << 20):
        parts = []
        while True:
            b = self.read_available()
            if not b:
                return b"".join(parts)
            parts.append(b)
            if self.total > limit:
                raise ClientGone("body too large")


# ---------------------------------------------------------------- streaming StAX-like reader (§7.2, §7.4)
class XMLStreamError(Exception):
    pass


START, END, CHARS, CDATA, COMMENT, PI, EOD = "START_ELEMENT", "END_ELEMENT", "CHARACTERS", "CDATA", \
    "COMMENT", "PROCESSING_INSTRUCTION", "END_DOCUMENT"
ITEM_TREE = ("actions[parameters[name,value],causes[shortDescription,userId,userName]],blocked,buildable,id,"
             "inQueueSince,params,stuck,task[name,url,color],url,why,timestamp,buildableStartMilliseconds,pending,"
             "cancelled,executable[number,url]")
ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class PullParser:
    """A pull parser with SJSXP's buffering (§7.4): character data that runs to the end of the
    received data is not returned until more input is loaded; if that input starts with markup the
    text is returned at once, otherwise the new text is appended and returned (one-chunk lag)."""
    def __init__(self, body, charset):
        self.body, self.buf, self.pos = body, "", 0
        self.dec = codecs.getincrementaldecoder(charset)("replace")
        self.stack, self.event, self.text, self.name, self.attrs = [], None, "", None, {}
        self.ended = False
        self.line = 1

    def load(self):
        while True:
            data = self.body.read_available()
            if not data:
                self.ended = True
                return False
            s = self.dec.decode(data)
            if s:
                self.buf = self.buf[self.pos:] + s
                self.pos = 0
                return True

    def need(self, n):
        while len(self.buf) - self.pos < n:
            if not self.load():
                raise XMLStreamError("ParseError at [row,col]:[%d,%d]\nMessage: XML document structures "
                                     "must start and end within the same entity." % (self.line, self.pos))

    def find(self, s):
        start = self.pos
        while True:
            i = self.buf.find(s, start)
            if i >= 0:
                return i
            start = max(self.pos, len(self.buf) - len(s) + 1)
            old = self.pos
            self.need(len(self.buf) - self.pos + 1)
            start -= old - self.pos

    def next(self):
        if self.pos >= len(self.buf) and not self.load():
            if self.stack:
                self.need(1)
            self.event = EOD
            return EOD
        if self.buf[self.pos] == "<":
            return self.markup()
        return self.chars()

    def chars(self):
        out = []
        held = False
        while True:
            m = MARKUP_RE.search(self.buf, self.pos)
            i = m.start() if m else len(self.buf)
            out.append(self.buf[self.pos:i])
            self.pos = i
            if i < len(self.buf) and self.buf[i] == "&":
                j = self.find(";")
                ref = self.buf[self.pos + 1:j]
                if ref.startswith("#x"):
                    out.append(chr(int(ref[2:], 16)))
                elif ref.startswith("#"):
                    out.append(chr(int(ref[1:])))
                elif ref in ENTITIES:
                    out.append(ENTITIES[ref])
                else:
                    raise XMLStreamError("ParseError: The entity \"%s\" was referenced, but not declared." % ref)
                self.pos = j + 1
                continue
            if i < len(self.buf) or held:
                break                        # markup follows, or the one extra load was done
            held = True                      # skipChar('<') on an empty buffer loads more input
            if not self.load():
                break
            if self.buf[self.pos] == "<":
                break
        self.event, self.text = CHARS, "".join(out)
        if not self.stack and self.text.strip():
            raise XMLStreamError("ParseError: Content is not allowed in prolog.")
        return CHARS

    def markup(self):
        self.need(2)
        b = self.buf
        if b.startswith("<!--", self.pos) or (len(b) - self.pos < 4 and "<!--".startswith(b[self.pos:])):
            self.need(4)
            j = self.find("-->")
            body = self.buf[self.pos + 4:j]
            if "--" in body or (body.endswith("-")):
                raise XMLStreamError("ParseError: The string \"--\" is not permitted within comments.")
            self.pos, self.event, self.text = j + 3, COMMENT, body
            return COMMENT
        if b.startswith("<!", self.pos):
            self.need(9)
            if self.buf.startswith("<![CDATA[", self.pos):
                j = self.find("]]>")
                self.text, self.pos, self.event = self.buf[self.pos + 9:j], j + 3, CDATA
                return CDATA
            raise XMLStreamError("ParseError: DOCTYPE is disallowed (SUPPORT_DTD=false)")
        if b.startswith("<?", self.pos):
            j = self.find("?>")
            self.text, self.pos, self.event = self.buf[self.pos + 2:j], j + 2, PI
            return PI
        j = self.find(">")
        tag = self.buf[self.pos + 1:j]
        self.pos = j + 1
        if tag.startswith("/"):
            name = tag[1:].strip()
            if not self.stack or self.stack[-1] != name:
                raise XMLStreamError("ParseError: The element type \"%s\" must be terminated by the matching "
                                     "end-tag \"</%s>\"." % (self.stack[-1] if self.stack else name, name))
            self.stack.pop()
            self.event, self.name = END, name
            return END
        empty = tag.endswith("/")
        if empty:
            tag = tag[:-1]
        m = re.match(r"\s*([^\s/>]+)", tag)
        if not m:
            raise XMLStreamError("ParseError: malformed start tag")
        self.name = m.group(1)
        self.attrs = {k: v1 if v1 is not None else v2 for k, v1, v2 in
                      re.findall(r"([^\s=]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", tag[m.end():])}
        self.stack.append(self.name)
        self.event = START
        if empty:
            self.pending_end = True
            self.next = self._emit_end       # self-closing: START then END
        return START

    def _emit_end(self):
        del self.next
        self.event = END
        self.stack.pop()
        return END

    def next_tag(self):
        """XMLStreamReader.nextTag: skips whitespace, comments and PIs."""
        while True:
            ev = self.next()
            if ev in (CHARS, CDATA) and not self.text.strip() or ev in (COMMENT, PI):
                continue
            if ev in (START, END):
                return ev
            raise XMLStreamError("ParseError: found: %s, expected START_ELEMENT or END_ELEMENT" % ev)

    def element_text(self):
        """XMLStreamReader.getElementText."""
        out = []
        while True:
            ev = self.next()
            if ev in (CHARS, CDATA):
                out.append(self.text)
            elif ev in (COMMENT, PI):
                continue
            elif ev == END:
                return "".join(out)
            else:
                raise XMLStreamError("ParseError: elementGetText() function expects text only elment but "
                                     "START_ELEMENT was encountered.")


HEX_RE = re.compile(r"[0-9A-Fa-f]+")
MARKUP_RE = re.compile(r"[<&]")


class DecodingStream:
    """hudson.util.DecodingStream (§7.2 step 4): two chars -> one byte, never validated."""
    def __init__(self, run):
        self.run, self.last = run, -1

    def print(self, text):
        if HEX_RE.fullmatch(text) and (self.last == -1 or 0 <= self.last < 128 and HEX_RE.fullmatch(chr(self.last))):
            whole = ("" if self.last == -1 else chr(self.last)) + text    # fast path: well-formed hex
            self.last = ord(whole[-1]) if len(whole) % 2 else -1
            if len(whole) > 1:
                self.run.write(bytes.fromhex(whole[:len(whole) // 2 * 2]))
            return
        out = bytearray()
        for b in text.encode("utf-8"):
            sb = b - 256 if b >= 128 else b          # FilterOutputStream passes signed bytes
            if self.last == -1:
                self.last = sb
                continue
            out.append((java_numeric(self.last) * 16 + java_numeric(sb)) & 0xFF)
            self.last = -1
        if out:
            self.run.write(bytes(out))


def fake_note(text):
    blob = base64.b64encode(hashlib.sha256(text.encode()).digest() + b"\x1f\x8b" + text.encode()).decode()
    return "%s[8mha:////4%s%s[0m" % (ESC, blob, ESC)


# ---------------------------------------------------------------- HTTP
class HTTPError(Exception):
    def __init__(self, status, body=b"", headers=None, ctype="text/html;charset=utf-8"):
        self.status, self.body, self.headers, self.ctype = status, body, headers or [], ctype


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Jetty(12.0.22)"
    sys_version = ""

    def setup(self):
        self.timeout = self.server.mode["idle_timeout"]    # Jetty idle timeout (§7.5)
        super().setup()

    def log_message(self, *a):
        pass

    def version_string(self):
        return self.server_version

    # -- responses
    def send(self, status, body=b"", ctype=None, headers=(), close=False):
        if isinstance(body, str):
            body = body.encode("utf-8")
        srv = self.server
        lines = ["HTTP/1.1 %d %s" % (status, HTTPStatus(status).phrase),
                 "Date: " + self.date_time_string(), "X-Content-Type-Options: nosniff",
                 "X-Hudson: 1.395", "X-Jenkins: " + srv.version, "X-Jenkins-Session: " + srv.session_id]
        if ctype:
            lines.append("Content-Type: " + ctype)
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if status not in (204, 304) and not (100 <= status < 200):
            lines.append("Content-Length: %d" % len(body))   # Jetty sends CL: 0 on empty 200s, never on 204
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        lines.append("Server: " + self.server_version)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")  # non-Latin-1 -> '?' (§3.1)
        self.wfile.write(head + (b"" if self.command == "HEAD" else body))
        self.wfile.flush()
        self.status = status

    def root_url(self):
        return "http://%s/" % (self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1])

    # error shapes (§0.1)
    def jetty_error(self, code, msg):
        m = html.escape(msg)
        return HTTPError(code, "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset="
                         "ISO-8859-1\"/>\n<title>Error %d %s</title>\n</head>\n<body>\n<h2>HTTP ERROR %d %s</h2>\n"
                         "<table>\n<tr><th>URI:</th><td>%s</td></tr>\n<tr><th>STATUS:</th><td>%d</td></tr>\n"
                         "<tr><th>MESSAGE:</th><td>%s</td></tr>\n<tr><th>SERVLET:</th><td>Stapler</td></tr>\n"
                         "</table>\n</body>\n</html>\n" % (code, m, code, m, html.escape(self.path), code, m),
                         ctype="text/html;charset=iso-8859-1")

    def oops(self, code, msg):
        if vtuple(self.server.version) < (2, 224):
            return HTTPError(code, "java.lang.Exception: %s\n\tat org.kohsuke.stapler.HttpResponses.error"
                             "(HttpResponses.java:83)\n" % msg, ctype="text/plain;charset=UTF-8")
        return HTTPError(code, "<!DOCTYPE html><html><head><title>Jenkins</title></head><body><h1>Oops!</h1>"
                         "<p>A problem occurred while processing the request.</p><p>Logging ID=%s</p></body></html>"
                         % uuid.uuid4())

    def failure(self, msg):
        return HTTPError(400, "<!DOCTYPE html><html><head><title>Error [Jenkins]</title></head><body>"
                         "<h1>Error</h1><p>%s</p></body></html>" % html.escape(msg), [("X-Error", msg)])

    def not_found(self):
        return HTTPError(404, "<!DOCTYPE html><html><head><title>Jenkins</title></head><body><h2>Not Found</h2>"
                         "<p>Stapler processed this HTTP request as follows, but couldn't find the resource to "
                         "consume the request</p></body></html>")

    def require_post(self):
        if self.command != "POST":         # @RequirePOST (§0.1)
            raise HTTPError(405, "<html><body><h1>This URL requires POST</h1></body></html>", [("Allow", "POST")])

    def stapler_post(self):
        if self.command != "POST":         # @POST -> 404 (§0.1)
            raise self.not_found()

    def denied(self, perm, perm_id=None):
        user = self.user or "anonymous"
        perm_id = perm_id or PERMS[perm]
        hdrs = [("X-You-Are-Authenticated-As", user),
                ("X-You-Are-In-Group-Disabled", "JENKINS-39402: use -Dhudson.security.AccessDeniedException2."
                 "REPORT_GROUP_HEADERS=true or use /whoAmI to diagnose"),
                ("X-Required-Permission", perm_id)]
        hdrs += [("X-Permission-Implied-By", p) for p in IMPLIED_BY.get(perm, ["hudson.model.Hudson.Administer"])]
        if self.user is None:              # HudsonAuthenticationEntryPoint (§1.3)
            body = ("<html><head><meta http-equiv='refresh' content='1;url=/login?from=%s'/><script>window.location."
                    "replace('/login?from=%s');</script></head><body style='background-color:white; color:white;'>\n"
                    "Authentication required\n<!--\nYou are authenticated as: anonymous\nGroups that you are in:\n  \n"
                    "Permission you need to have (but didn't): %s\n-->\n</body></html>"
                    % (quote(self.path, safe=""), quote(self.path, safe=""), perm_id))
        else:
            body = "<html><body><h1>Access Denied</h1><p>%s is missing the %s permission</p></body></html>" % (
                html.escape(user), perm_id)
        return HTTPError(403, body, hdrs)

    def need(self, perm, perm_id=None):
        """perm is the --users name; perm_id the Jenkins permission the action checks, when the
        name covers several (`computer`: Computer.Create, Configure, Connect, Disconnect, Delete)."""
        if self.user is None and perm == "read" and self.server.mode["anonymous_read"]:
            return
        perms = self.server.users.get(self.user, {}).get("perms", set()) if self.user else set()
        if "all" in perms or perm in perms or (perm == "cancel" and "build" in perms):
            return
        raise self.denied(perm, perm_id)

    # -- fault injection (/_double/faults)
    def fault(self, name):
        f = self.server.faults
        with self.server.lock:
            n = f.get(name, 0)
            if n and re.search(f.get("match", ""), self.path):
                f[name] = n - 1
                return True
        return False

    # -- request dispatch
    def handle_one_request(self):
        self.status, self.t0, self.body_len = None, time.time(), 0
        super().handle_one_request()

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def dispatch(self):
        u = urlsplit(self.path)
        self.query = dict(parse_qsl(u.query, keep_blank_values=True))
        self.segs = [unquote(s) for s in u.path.split("/")[1:]]
        self.body = None
        self.reader = BodyReader(self)
        self.user, self.token_auth = None, False
        try:
            try:
                if u.path.startswith("/_double/"):
                    self.control(u.path[len("/_double/"):])
                else:
                    self.jenkins(u.path)
            except HTTPError as e:
                self.send(e.status, e.body, e.ctype, e.headers)
        except (ClientGone, ConnectionError, socket.timeout, TimeoutError, BrokenPipeError):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            try:
                e = self.oops(500, "internal error")
                self.send(500, e.body, e.ctype)
            except OSError:
                self.close_connection = True
        finally:
            if self.body is None and not self.close_connection:
                try:                          # consume the rest of the body to keep the connection usable
                    self.reader.read_all()
                except Exception:
                    self.close_connection = True
            if u.path.startswith("/_double/"):
                return
            hd = {k: self.headers.get(k) for k in ("Content-Type", "Transfer-Encoding", "Content-Length", "Expect",
                                                   "Accept-Language", "Referer", "Jenkins-Crumb", "Accept")
                  if self.headers.get(k) is not None}
            if self.headers.get("Authorization"):
                hd["Authorization-User"] = self.auth_user_name()
            if True:
                self.server.record({"t": round(self.t0, 3), "method": self.command, "path": u.path, "query": u.query,
                                    "status": self.status, "headers": hd, "body_bytes": self.reader.total,
                                    "ms": int((time.time() - self.t0) * 1000)})

    def auth_user_name(self):
        try:
            return base64.b64decode(self.headers["Authorization"].split(None, 1)[1]).decode().split(":", 1)[0]
        except Exception:
            return None

    def read_body(self):
        if self.body is None:
            self.body = self.reader.read_all()
        return self.body

    def form(self):
        ct = (self.headers.get("Content-Type") or "").lower()
        d = dict(self.query)
        if self.command == "POST" and ct.startswith("application/x-www-form-urlencoded"):
            d.update(parse_qsl(self.read_body().decode("utf-8", "replace"), keep_blank_values=True))
        return d

    # ---------------------------------------------------------------- Jenkins
    def authenticate(self):
        """BasicHeaderProcessor (§1.2): API token first, then password; failure -> 401."""
        h = self.headers.get("Authorization")
        if not h:
            return
        try:
            scheme, cred = h.split(None, 1)
            user, secret = base64.b64decode(cred).decode("utf-8").split(":", 1)
        except Exception:
            user = secret = None
            scheme = "Basic"
        if scheme.lower() != "basic":
            return
        u = self.server.users.get(user) if user else None
        if u and u["token"] and secrets.compare_digest(u["token"], secret):
            self.user, self.token_auth = user, True
        elif u and u["password"] and secrets.compare_digest(u["password"], secret):
            self.user = user
        else:
            raise HTTPError(401, self.jetty_error(401, "Unauthorized").body,
                            [("WWW-Authenticate", 'Basic realm="Jenkins", charset="UTF-8"')],
                            "text/html;charset=iso-8859-1")

    def session(self):
        m = re.search(r"JSESSIONID\.[0-9a-f]+=([0-9a-zA-Z]+)", self.headers.get("Cookie") or "")
        return m.group(1) if m else None

    def crumb_for(self, session):
        return hashlib.sha256(("%s;%s;%s" % (self.user or "anonymous", session, self.server.salt)).encode()).hexdigest()

    def check_crumb(self):
        """CrumbFilter (§1.4): every POST, unless authenticated by an API token (ApiCrumbExclusion)."""
        if self.command != "POST" or not self.server.mode["csrf"] or self.token_auth:
            return
        sess = self.session()
        got = self.headers.get("Jenkins-Crumb")
        if got is None:
            got = self.form().get("Jenkins-Crumb")   # request parameters: consumes a form body
        if not sess or got != self.crumb_for(sess):
            raise self.jetty_error(403, "No valid crumb was included in the request")

    def jenkins(self, path):
        srv = self.server
        if self.fault("slow"):               # slow answers: delay_ms before handling
            time.sleep(self.server.faults.get("delay_ms", 1000) / 1000.0)
        if self.fault("drop"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            raise ClientGone("dropped by fault")
        if self.fault("html200"):            # a proxy's or login page's HTML where JSON was expected
            return self.send(200, "<html><head><title>Sign in</title></head><body>proxy</body></html>",
                             "text/html;charset=utf-8")
        if self.fault("bad_json"):           # a truncated answer
            return self.send(200, '{"_class":"hudson.model.Queue","items":[{"id":', "application/json;charset=utf-8")
        if self.fault("status503") or time.time() < srv.down_until:
            raise HTTPError(503, "<html><body><h1>Please wait while Jenkins is getting ready to work...</h1>"
                            "</body></html>", [("Retry-After", "10")])
        self.authenticate()
        self.check_crumb()
        s = [x for x in self.segs]
        if s and s[-1] == "":
            s = s[:-1]
        if s[:1] in (["login"], ["securityRealm"]):
            return self.send(200, "<html><body>login</body></html>", "text/html;charset=utf-8")
        self.need("read")                   # Jenkins.getTarget: Overall/Read on everything else
        if s == ["crumbIssuer", "api", "json"]:
            if not srv.mode["csrf"]:
                raise self.not_found()
            sess, hdrs = self.session(), []
            if not sess:
                sess = secrets.token_hex(12)
                hdrs.append(("Set-Cookie", "JSESSIONID.%s=%s; Path=/; HttpOnly" % (srv.salt[:8], sess)))
            return self.json({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": self.crumb_for(sess),
                              "crumbRequestField": "Jenkins-Crumb"}, hdrs)
        if s[:1] == ["computer"]:
            return self.computer(s[1:])
        if s[:1] == ["queue"]:
            return self.queue_api(s[1:])
        if s[:1] in (["me"], ["whoAmI"]) and s[1:] == ["api", "json"]:
            return self.json({"_class": "hudson.model.User", "id": self.user or "anonymous",
                              "fullName": self.user or "anonymous"})
        # job/A/job/B/... (§3)
        names = []
        while len(s) >= 2 and s[0] == "job":
            names.append(s[1])
            s = s[2:]
        with srv.lock:
            job = srv.resolve(names)
        if job is None:
            raise self.not_found()
        return self.item(job, s)

    def json(self, obj, headers=(), default_tree=None):
        tree = self.query.get("tree")
        if tree:
            obj = apply_tree(obj, parse_tree(tree))
        elif default_tree:
            obj = apply_tree(obj, parse_tree(default_tree))
        self.send(200, json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
                  "application/json;charset=utf-8", headers)

    def redirect(self, where, code=302):
        self.send(code, b"", None, [("Location", where if where.startswith("http") else self.root_url() + where)])

    # ---------------------------------------------------------------- nodes (§2)
    def node_json(self, n):
        c = n.offline_cause
        return {"_class": "hudson.slaves.SlaveComputer", "actions": [], "assignedLabels":
                [{"name": l} for l in sorted(n.label_set())], "description": n.description,
                "displayName": n.name, "executors": [], "icon": "symbol-computer-offline",
                "iconClassName": "icon-computer-x", "idle": True, "jnlpAgent": n.launcher.endswith("JNLPLauncher"),
                "launchSupported": True, "loadStatistics": {"_class": "hudson.model.Label$1"},
                "manualLaunchAllowed": True, "monitorData": {}, "numExecutors": n.num_executors,
                "offline": True,             # no remoting channel, ever (§2.1)
                "offlineCause": {"_class": "hudson.slaves.OfflineCause$UserCause",
                                 "description": "Disconnected by %s : %s" % (c[0], c[1]), "timestamp": c[2]}
                if c else None,
                "offlineCauseReason": util_escape(c[1]) if c else "", "oneOffExecutors": [],
                "temporarilyOffline": bool(c), "absoluteRemotePath": None}

    def computer(self, s):
        srv = self.server
        if s == [] or s == [""]:
            return self.send(200, "<html><body><h1>Nodes</h1></body></html>", "text/html;charset=utf-8")
        if s == ["api", "json"]:
            with srv.lock:
                comps = [{"_class": "hudson.model.Hudson$MasterComputer", "displayName": "Built-In Node",
                          "numExecutors": 0, "offline": False, "temporarilyOffline": False, "idle": True,
                          "offlineCause": None, "offlineCauseReason": "", "description": "the Jenkins controller's "
                          "built-in node", "assignedLabels": [{"name": "built-in"}], "executors": []}]
                comps += [self.node_json(n) for n in srv.nodes.values()]
            return self.json({"_class": "hudson.model.ComputerSet", "busyExecutors": 0, "computer": comps,
                              "displayName": "Nodes", "totalExecutors": 0},
                             default_tree="busyExecutors,computer[*],displayName,totalExecutors")
        if s == ["doCreateItem"]:            # form API (§2.2)
            self.stapler_post()
            self.need("computer", "hudson.model.Computer.Create")
            f = self.form()
            name = (f.get("name") or "").strip()
            err = check_good_name(name)
            if err:
                raise self.failure(err)
            with srv.lock:
                if name in srv.nodes:
                    raise self.failure("Agent called %s%s%s already exists" % (LQ, name, RQ))
                if f.get("type") not in ("hudson.slaves.DumbSlave", "hudson.slaves.DumbSlave$DescriptorImpl"):
                    raise self.oops(500, "No such type: %s" % f.get("type"))
                if "json" not in f:
                    raise self.failure("Nothing is submitted")
                try:
                    j = json.loads(f["json"])
                    n = Node(name)
                    n.description = j.get("nodeDescription", "")
                    n.num_executors = int(j.get("numExecutors", 1))
                    n.remote_fs, n.labels = j.get("remoteFS", ""), j.get("labelString", "")
                    n.mode = j.get("mode", "NORMAL")
                    n.launcher = (j.get("launcher") or {}).get("stapler-class", n.launcher)
                except (ValueError, TypeError, AttributeError) as e:
                    raise self.oops(500, str(e))
                srv.nodes[name] = n
            srv.save_state()
            return self.redirect("computer/")
        if s == ["createItem"]:              # XML API, >= 2.539 only (§2.3)
            self.stapler_post()
            self.need("computer", "hudson.model.Computer.Create")
            if vtuple(srv.version) < (2, 539):
                raise self.failure("No mode given")
            name = self.query.get("name", "")
            with srv.lock:
                if name in srv.nodes:
                    raise self.failure("Node '%s' already exists" % name)
                n = Node(name)
                self.node_from_xml(n, self.read_body())
                n.name = name
                srv.nodes[name] = n
            srv.save_state()
            return self.send(200)
        with srv.lock:
            n = srv.nodes.get(s[0])
        if n is None:
            raise self.not_found()
        rest = s[1:]
        if rest == ["api", "json"]:
            with srv.lock:
                return self.json(self.node_json(n), default_tree="*")
        if rest == ["config.xml"]:
            if self.command == "GET":             # Computer.EXTENDED_READ (§2.4)
                self.need("computer", "hudson.model.Computer.ExtendedRead")
                return self.send(200, n.to_xml(), "application/xml;charset=utf-8")
            self.need("computer")
            with srv.lock:
                old = n.name
                self.node_from_xml(n, self.read_body())
                if n.name != old:
                    del srv.nodes[old]
                    srv.nodes[n.name] = n
            srv.save_state()
            return self.send(200)
        if rest in (["changeOfflineCause"], ["toggleOffline"]):   # §2.5
            self.require_post()
            # Computer.DISCONNECT to take it offline, Computer.CONNECT when toggleOffline clears it
            clear = rest == ["toggleOffline"] and n.offline_cause is not None
            self.need("computer", "hudson.model.Computer." + ("Connect" if clear else "Disconnect"))
            msg = self.form().get("offlineMessage", "")
            with srv.lock:
                if rest == ["toggleOffline"] and n.offline_cause:
                    n.offline_cause = None
                else:
                    n.offline_cause = (self.user or "anonymous", msg, now_ms())
            srv.save_state()
            return self.redirect("computer/%s/" % quote(n.name))
        if rest == ["doDelete"]:             # §2.6
            self.require_post()
            self.need("computer", "hudson.model.Computer.Delete")
            with srv.lock:
                srv.nodes.pop(n.name, None)
            srv.save_state()
            return self.redirect("computer/")
        if rest == []:
            return self.send(200, "<html><body><h1>%s</h1></body></html>" % html.escape(n.name),
                             "text/html;charset=utf-8")
        raise self.not_found()

    def node_from_xml(self, n, body):
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise self.oops(500, str(e))
        if root.tag not in ("slave", "hudson.slaves.DumbSlave"):
            raise self.failure("Node types do not match")
        n.name = root.findtext("name") or n.name
        n.description = root.findtext("description") or ""
        n.remote_fs = root.findtext("remoteFS") or ""
        n.num_executors = int(root.findtext("numExecutors") or 1)
        n.mode = root.findtext("mode") or "NORMAL"
        n.labels = root.findtext("label") or ""
        la = root.find("launcher")
        n.launcher = la.get("class", n.launcher) if la is not None else n.launcher
        toc = root.find("temporaryOfflineCause")
        if vtuple(self.server.version) >= (2, 482):   # the cause lives in the node XML (§2.4)
            if toc is None:
                n.offline_cause = None
            else:
                args = [a.text or "" for a in toc.iterfind(".//args/string")]
                n.offline_cause = (toc.findtext("userId") or (args[0] if args else ""),
                                   args[1][3:] if len(args) > 1 else "", int(toc.findtext("timestamp") or 0))

    # ---------------------------------------------------------------- queue (§5, §6)
    def queue_api(self, s):
        srv = self.server
        root = self.root_url()
        if s == ["api", "json"]:
            with srv.qlock:
                items = [srv.item_json(i, root) for i in srv.queue]
            return self.json({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items},
                             default_tree="discoverableItems,items[%s]" % ITEM_TREE)
        if s == ["cancelItem"]:
            return self.cancel_item()
        if len(s) >= 2 and s[0] == "item" and s[1].isdigit():
            qid = int(s[1])
            with srv.qlock:
                it = srv.find_item(qid)
                d = srv.item_json(it, root) if it else None
            if it is None:
                raise self.not_found()
            if s[2:] == ["cancelQueue"]:     # deprecated: 204 regardless of outcome since 2.211 (§6.3)
                self.require_post()
                if self.can_cancel():        # Item.doCancelQueue: no-op without Item.CANCEL
                    self.do_cancel(it)
                if srv.mode["cancel_302"]:
                    return self.redirect(self.headers.get("Referer") or "queue/")
                return self.send(204)
            if s[2:] == ["api", "json"]:
                return self.json(d, default_tree=ITEM_TREE)
            if s[2:] == []:
                return self.send(200, "Queue item exists. For details check, for example, /queue/item/%d/api/json"
                                 "?tree=cancelled,executable[url]" % qid, "text/plain;charset=utf-8")
        if s == []:
            return self.send(200, "<html><body><h1>Build Queue</h1></body></html>", "text/html;charset=utf-8")
        raise self.not_found()

    def do_cancel(self, it):
        """Queue.cancel(item) under the queue lock: removes exactly that object (§6.1)."""
        with self.server.qlock:
            if it.stage == "left" or not any(x is it for x in self.server.queue):
                return False
            self.server.queue = [x for x in self.server.queue if x is not it]
            left = QItem(it.id, it.job, it.params, it.user, "left", prev=it)
            left.cancelled, left.left_at = True, time.time()
            self.server.left[it.id] = left
        self.server.save_state()
        return True

    def can_cancel(self):
        """Item.hasCancelPermission: Item.CANCEL, implied by Item.BUILD."""
        perms = self.server.users.get(self.user, {}).get("perms", set()) if self.user else set()
        return bool({"all", "cancel", "build"} & perms)

    def cancel_item(self):
        srv = self.server
        self.require_post()
        try:
            qid = int(self.query.get("id", "0") or 0)
        except ValueError:
            raise self.oops(500, "For input string: \"%s\"" % self.query.get("id"))
        it = srv.find_item(qid)              # lock-free snapshot read (§6.2)
        can_cancel = self.can_cancel()
        if srv.mode["cancel_302"]:           # <= 2.210: always 302 to Referer or /queue/ (§6.3)
            # the Item.CANCEL check came with SECURITY-891 (2.121.2); before it anybody cancelled
            if it is not None and (can_cancel or vtuple(srv.version) < (2, 121, 2)):
                self.do_cancel(it)
            return self.redirect(self.headers.get("Referer") or "queue/")
        if it is None:                       # HttpResponses.error: the Oops page, not Jetty's
            raise self.oops(404, "Provided id (%d) not found" % qid)
        if not can_cancel:
            raise self.oops(422, "Item for id (%d) is not cancellable" % qid)
        if it.stage != "left" and self.fault("cancel_500"):
            raise self.oops(500, "Could not cancel run for id %d" % qid)   # stale object (§6.2)
        delay = srv.faults.get("cancel_race_ms")
        if delay:
            time.sleep(delay / 1000.0)       # widen the snapshot -> lock window for race tests
        if self.do_cancel(it):
            if self.fault("cancel_lost"):    # cancelled, but the answer never reaches the caller (§6.2)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                raise ClientGone("answer lost by fault")
            return self.send(204)
        raise self.oops(500, "Could not cancel run for id %d" % qid)

    def schedule(self, job, params, fold_code=303):
        """Queue.schedule2 (§4): fold into an identical queued item, else a new WaitingItem."""
        srv = self.server
        delay = self.query.get("delay")
        if delay is None:
            delay_ms = job.quiet * 1000
        else:
            m = re.match(r"\s*(\d+)\s*(\w*)", delay)
            n, unit = (int(m.group(1)), m.group(2).lower()) if m else (0, "")
            delay_ms = n * {"sec": 1000, "secs": 1000, "s": 1000, "min": 60000, "ms": 1}.get(unit, 1)
        with srv.qlock:
            for it in srv.queue:
                if it.job is job and it.params == params:
                    old = vtuple(srv.version) < (2, 308)   # 303 since 2.308
                    return it.id, 201 if old else fold_code
            qid = srv.next_qid
            srv.next_qid += 1
            srv.queue.append(QItem(qid, job, params, self.user or "anonymous", "waiting",
                                   due=now_ms() + delay_ms))
        srv.save_state()
        return qid, 201

    # ---------------------------------------------------------------- items (§3, §4, §7, §8)
    def job_json(self, job):
        root = self.root_url()
        d = {"_class": Job.JCLASS[job.kind], "actions": [], "description": job.description,
             "displayName": job.name, "fullDisplayName": job.full_name().replace("/", " \u00bb "),
             "fullName": job.full_name(), "name": job.name, "url": root + job.url_path()}
        if job.kind == "folder":
            d["jobs"] = [self.job_json(c) for c in job.children.values()]
            return d
        runs = sorted(job.runs.values(), key=lambda r: -r.number)
        # Depth 0 shows runs as references; tree= reaches into their exported fields (builds[building,...]).
        ref = lambda r: r and {"_class": r.kind, "number": r.number, "url": "%s%s%d/" % (root, job.url_path(), r.number)}
        done = [r for r in runs if not r.building]
        d.update({"buildable": job.kind == "freestyle" and not job.disabled, "builds": [self.run_json(job, r) if self.query.get("tree") else ref(r) for r in runs[:100]],
                  "color": "disabled" if job.disabled else ("notbuilt" if not done else
                                                            ("blue" if done[0].result == "SUCCESS" else "red")),
                  "firstBuild": ref(runs[-1]) if runs else None, "keepDependencies": False,
                  "lastBuild": ref(runs[0]) if runs else None,
                  "lastCompletedBuild": ref(done[0]) if done else None,
                  "lastSuccessfulBuild": ref(next((r for r in done if r.result == "SUCCESS"), None)),
                  "lastFailedBuild": ref(next((r for r in done if r.result == "FAILURE"), None)),
                  "nextBuildNumber": job.next_number, "property": [], "healthReport": []})
        if job.kind == "freestyle":
            with self.server.qlock:
                q = [i for i in self.server.queue if i.job is job]
            d.update({"concurrentBuild": job.concurrent, "disabled": job.disabled, "inQueue": bool(q),
                      "queueItem": self.server.item_json(q[0], root) if q else None,
                      "property": [{"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": [
                          {"_class": c.replace("Value", "Definition"), "name": n, "type": c.split(".")[-1].replace(
                              "ParameterValue", "ParameterDefinition"),
                           "defaultParameterValue": {"_class": c, "name": n, "value": v}} for c, n, v in job.params]}]
                      if job.params else []})
        return d

    def run_json(self, job, r):
        log, building = r.snapshot()
        est = [x.duration for x in job.runs.values() if not x.building and x.result == "SUCCESS"][-3:]
        return {"_class": r.kind, "actions": [], "artifacts": [], "building": building, "description": r.description,
                "displayName": r.display_name or "#%d" % r.number, "duration": r.duration,
                "estimatedDuration": int(sum(est) / len(est)) if est else -1, "executor": None,
                "fullDisplayName": "%s %s" % (job.full_name().replace("/", " \u00bb "),
                                              r.display_name or "#%d" % r.number),
                "id": str(r.number), "inProgress": building, "keepLog": False, "number": r.number, "queueId": 0,
                "result": r.result, "timestamp": r.timestamp,
                "url": "%s%s%d/" % (self.root_url(), job.url_path(), r.number)}

    def item(self, job, s):
        srv = self.server
        if job is srv.root:
            if s in (["api", "json"], ["api", "json", ""]):
                d = {"_class": "hudson.model.Hudson", "assignedLabels": [{"name": "built-in"}], "mode": "NORMAL",
                     "nodeDescription": "the Jenkins controller's built-in node", "nodeName": "", "numExecutors": 0,
                     "jobs": [self.job_json(c) for c in srv.root.children.values()],
                     "quietingDown": False, "useCrumbs": srv.mode["csrf"], "useSecurity": True,
                     "url": self.root_url()}
                return self.json(d, default_tree="assignedLabels[*],mode,nodeDescription,nodeName,numExecutors,"
                                                 "jobs[name,url,color],quietingDown,useCrumbs,useSecurity,url")
            if s == ["createItem"]:
                return self.create_item(job)
            if s == []:
                return self.send(200, "<html><body><h1>Dashboard [Jenkins]</h1></body></html>",
                                 "text/html;charset=utf-8")
            raise self.not_found()
        if s == ["api", "json"]:
            with srv.lock:
                return self.json(self.job_json(job), default_tree="*")
        if s == ["config.xml"]:              # §3.3
            if self.command == "GET":
                self.need("configure")
                body = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", job.xml)
                return self.send(200, "<?xml version='1.1' encoding='UTF-8'?>\n" + body, "application/xml")
            self.require_post()
            self.need("configure")
            ct = self.headers.get("Content-Type") or ""
            m = re.search(r"charset=([\w-]+)", ct, re.I)
            text = self.read_body().decode(m.group(1) if m else "iso-8859-1", "replace")  # getReader() (§3.3)
            text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
            try:
                with srv.lock:
                    job.configure(text)
            except ET.ParseError as e:
                raise self.oops(500, "Failed to persist config.xml: %s" % e)
            except ValueError as e:
                raise self.oops(500, str(e))
            srv.save_state()
            return self.send(200)
        if s == ["createItem"] and job.kind == "folder":
            self.stapler_post()
            return self.create_item(job)
        if s == ["doDelete"]:
            self.require_post()
            self.need("configure")
            with srv.lock:
                del job.parent.children[job.name.lower()]
                with srv.qlock:
                    srv.queue = [i for i in srv.queue if i.job is not job]
            srv.save_state()
            return self.redirect(job.parent.url_path() if job.parent.name else "")
        if s in (["enable"], ["disable"]) and job.kind == "freestyle":
            self.require_post()
            self.need("configure")
            with srv.lock:
                job.xml = re.sub(r"<disabled>\w*</disabled>", "", job.xml).replace(
                    "</project>", "<disabled>%s</disabled></project>" % ("true" if s == ["disable"] else "false"))
                job.disabled = s == ["disable"]
            return self.redirect(job.url_path())
        if s in (["buildWithParameters"], ["build"]) and job.kind == "freestyle":
            return self.build(job, s[0])
        if s == ["postBuildResult"] and job.kind == "external":
            return self.post_build_result(job)
        if s == []:
            return self.send(200, "<html><body><h1>%s</h1></body></html>" % html.escape(job.full_name()),
                             "text/html;charset=utf-8")
        if s and job.kind != "folder":
            alias = {"lastBuild": lambda rs: rs, "lastCompletedBuild": lambda rs: [r for r in rs if not r.building],
                     "lastSuccessfulBuild": lambda rs: [r for r in rs if r.result == "SUCCESS"],
                     "lastFailedBuild": lambda rs: [r for r in rs if r.result == "FAILURE"]}
            with srv.lock:
                rs = sorted(job.runs.values(), key=lambda r: -r.number)
                r = job.runs.get(int(s[0])) if s[0].isdigit() else \
                    (alias[s[0]](rs) or [None])[0] if s[0] in alias else None
            if r is None:
                raise self.not_found()
            return self.run_api(job, r, s[1:])
        raise self.not_found()

    def create_item(self, parent):
        """ItemGroupMixIn.createTopLevelItem (§3.1)."""
        srv = self.server
        self.require_post() if parent is srv.root else self.stapler_post()
        self.need("create")
        if not self.headers.get("Content-Type"):
            raise self.failure("No Content-Type header set")
        name = self.query.get("name")
        if name is None:
            raise self.failure("Query parameter 'name' is required")
        if self.query.get("mode") == "copy":
            raise self.oops(500, "copy mode is not supported by the double")
        err = check_good_name(name)
        if err:
            raise self.failure(err)
        body = self.read_body()
        with srv.lock:
            if name.lower() in parent.children:
                raise self.failure("A job already exists with the name %s%s%s" % (LQ, name, RQ))
            try:
                m = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([\w-]+)", body)   # bytes: declaration honoured
                text = body.decode(m.group(1).decode() if m else "utf-8", "replace")
                text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
                job = Job(name, parent, text)
            except (ET.ParseError, ValueError, LookupError) as e:
                raise self.oops(500, "Failed to persist config.xml: %s" % e)
            parent.children[name.lower()] = job
        srv.save_state()
        return self.send(200)

    def build(self, job, action):
        """ParameterizedJobMixIn.doBuild/doBuildWithParameters (§4)."""
        self.require_post()
        self.need("build")
        if job.disabled:
            raise self.oops(409, "%s is not buildable" % job.full_name())
        f = self.form()
        if action == "buildWithParameters":
            if not job.params:
                raise self.jetty_error(400, "%s is not parameterized" % job.full_name())
            params = [(c, n, f.get(n, d)) for c, n, d in job.params]
        elif job.params:
            if "json" not in f:
                raise self.jetty_error(400, "Nothing is submitted")
            given = {p.get("name"): p.get("value") for p in
                     (json.loads(f["json"]).get("parameter") or [])}
            params = [(c, n, given.get(n, d)) for c, n, d in job.params]
        else:
            params = []
        # /build answers 201 even when folded into a queued item (JENKINS-66105, §4)
        qid, code = self.schedule(job, params, 303 if action == "buildWithParameters" else 201)
        return self.redirect("queue/item/%d/" % qid, code)

    def run_api(self, job, r, s):
        if s == ["api", "json"]:
            return self.json(self.run_json(job, r), default_tree="*")
        if s == ["consoleText"]:             # §8.2: raw, notes stripped
            log, _ = r.snapshot()
            return self.send(200, NOTE_RE.sub(b"", log), "text/plain;charset=UTF-8")
        if s == ["logText", "progressiveText"]:
            return self.progressive(r)
        if s == []:
            return self.send(200, "<html><body><h1>%s</h1></body></html>" % r.number, "text/html;charset=utf-8")
        raise self.not_found()

    def progressive(self, r):
        """Stapler LargeText.doProgressTextImpl (§8.1)."""
        log, building = r.snapshot()
        try:
            start = int(self.query.get("start", "0") or 0)
        except ValueError:
            start = 0
        if start > len(log) or start < 0:
            start = 0
        data = log[start:]
        if building:                          # only complete lines, at most 10 000 lines
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            data = data[:cut]
            lines = data.split(b"\n")
            if len(lines) > 10001:
                data = b"\n".join(lines[:10000]) + b"\n"
        new2509 = self.server.mode["progressive_2509"]
        size = len(log) if new2509 else start + len(data)
        if not new2509:
            data = NOTE_RE.sub(b"", data)
        cs = r.charset or "utf-8"
        try:
            text = data.decode(cs, "replace")
        except LookupError:
            text = data.decode("utf-8", "replace")
        text = re.sub(r"\r?\n", "\r\n", text)  # LineEndNormalizingWriter
        hdrs = [("X-Text-Size", str(size))] + ([("X-More-Data", "true")] if building else [])
        return self.send(200, text, "text/plain;charset=UTF-8", hdrs)

    # ---------------------------------------------------------------- postBuildResult (§7)
    def post_build_result(self, job):
        srv = self.server
        self.stapler_post()
        self.need("build")                    # Item.BUILD, before any body is read (§7.2 step 1)
        with srv.lock:                        # newBuild(): number now, visible at once
            r = Run(job, job.next_number)
            job.next_number += 1
            job.runs[r.number] = r
        srv.save_state()
        t0 = time.time()
        user = self.user or "anonymous"
        r.write(("Started\nRunning as %s\n" % (user if user == "anonymous" else fake_note(user) + user)).encode())
        ct = self.headers.get("Content-Type") or ""
        m = re.search(r"charset=\"?([\w-]+)", ct, re.I)
        charset = m.group(1) if m else "iso-8859-1"      # Request.getReader() default (§7.4)
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = "iso-8859-1"
        self.connection.settimeout(srv.mode["idle_timeout"])
        srv.streams.add(self.connection)
        result, duration, gone = "FAILURE", 0, False
        try:
            p = PullParser(self.reader, charset)
            logger = DecodingStream(r)
            p.next_tag()                      # <run>
            p.next_tag()                      # <log>
            r.charset = p.attrs.get("content-encoding")
            while p.next() != END:
                if p.event in (CHARS, CDATA):
                    logger.print(p.text)
                elif p.event == EOD:
                    p.need(1)
            p.next_tag()                      # <result>
            txt = p.element_text()
            if re.fullmatch(r"[+-]?[0-9]+", txt) and -2**31 <= int(txt) < 2**31:   # Integer.parseInt
                result = "SUCCESS" if int(txt) == 0 else "FAILURE"
            else:                             # Result.fromString: exact name, any case
                result = next((x for x in RESULTS if x.lower() == txt.lower()), "FAILURE")
            while True:
                p.next_tag()
                if p.event == START:
                    if p.name == "duration":
                        t = p.element_text()
                        if not re.fullmatch(r"[+-]?\d+", t):
                            raise XMLStreamError("java.lang.NumberFormatException: For input string: \"%s\"" % t)
                        duration = int(t)
                    elif p.name in ("displayName", "description"):
                        t = p.element_text()
                        perms = srv.users.get(self.user, {}).get("perms", set())
                        if not ({"all", "update"} & perms):      # Run.UPDATE (§7.2 step 6)
                            raise XMLStreamError("hudson.security.AccessDeniedException3: %s is missing the Run/"
                                                 "Update permission" % user)
                        if p.name == "displayName":
                            r.display_name = t
                        else:
                            r.description = t
                if p.event == END and p.name == "run":
                    break
        except (XMLStreamError, TimeoutError, ClientGone, OSError, ValueError) as e:
            gone = isinstance(e, (ClientGone, OSError)) or isinstance(e, TimeoutError)
            result = "FAILURE"                # Run.execute catches everything (§7.2 step 7)
            cls = {XMLStreamError: "javax.xml.stream.XMLStreamException", TimeoutError: "java.io.IOException",
                   ClientGone: "org.eclipse.jetty.io.EofException"}.get(type(e), "java.io.IOException")
            msg = str(e)
            r.write(("FATAL: %s\n%s: %s\n\tat hudson.model.ExternalRun$1.run(ExternalRun.java:122)\n"
                     "\tat hudson.model.Run.execute(Run.java:1895)\n" % (msg, cls, msg)).encode())
        finally:
            srv.streams.discard(self.connection)
        r.write(("Finished: %s\n" % result).encode())
        with srv.lock:
            if job.runs.get(r.number) is not r:
                gone = True                   # lost in a "restart": nothing is saved
            r.result = result
            r.duration = duration if duration else int((time.time() - t0) * 1000)
            r.building = False
        srv.save_state()
        self.body = b""                       # rest of the body: consumed below or the connection closes
        if gone:
            try:
                self.send(200, close=True)    # the servlet still sets 200, on a dead connection (§7.2)
            except OSError:
                pass
            self.close_connection = True
            return
        self.send(200)                        # only now (§7.2 step 8)
        try:
            self.reader.read_all()
        except Exception:
            self.close_connection = True

    # ---------------------------------------------------------------- control endpoints
    def control(self, what):
        srv = self.server
        body = self.read_body()
        arg = json.loads(body) if body.strip() else {}
        arg.update({k: (float(v) if re.fullmatch(r"-?\d+(\.\d+)?", v) else
                        {"true": True, "false": False}.get(v, v)) for k, v in self.query.items()})
        out = {"ok": True}
        if what == "state":
            out = srv.state_json(with_logs=arg.get("logs", True))
        elif what == "requests":
            with srv.log_lock:
                out = list(srv.requests_log)
            if self.command == "DELETE":
                with srv.log_lock:
                    srv.requests_log.clear()
        elif what == "faults":
            if self.command == "POST":
                with srv.lock:
                    srv.faults = {k: (int(v) if isinstance(v, float) and k != "match" else v) for k, v in arg.items()}
            out = srv.faults
        elif what == "mode":
            if self.command == "POST":
                with srv.lock:
                    if "version" in arg:
                        srv.version = str(arg.pop("version"))
                    srv.mode.update(arg)
            out = dict(srv.mode, version=srv.version)
        elif what == "restart":
            srv.restart(float(arg.get("down_ms", 0)) / 1000.0)
        elif what == "drop_streams":
            srv.drop_streams()
        elif what == "maintain":
            srv.maintain()
        elif what == "users":
            for name, u in arg.items():
                srv.users[name] = {"token": u.get("token"), "password": u.get("password"),
                                   "perms": set(u.get("perms", ["all"]))}
        elif what == "queue/start":          # a JVM executor took the item: LeftItem with executable
            qid = int(arg["id"])
            with srv.lock, srv.qlock:
                it = next((i for i in srv.queue if i.id == qid), None)
                if it is None:
                    raise HTTPError(404, b"no such live item", ctype="text/plain")
                srv.queue = [x for x in srv.queue if x is not it]
                job = it.job
                r = Run(job, job.next_number, "hudson.model.FreeStyleBuild")
                job.next_number += 1
                job.runs[r.number] = r
                r.write(b"Started by user %s\nBuilding on the built-in node\nBuild step 'Execute shell' marked "
                        b"build as failure\nFinished: FAILURE\n" % it.user.encode())
                r.building, r.result = False, "FAILURE"
                left = QItem(it.id, job, it.params, it.user, "left", prev=it)
                left.left_at = time.time()
                left.executable = {"_class": r.kind, "number": r.number,
                                   "url": "%s%s%d/" % (self.root_url(), job.url_path(), r.number)}
                srv.left[qid] = left
        else:
            raise HTTPError(404, b"unknown control endpoint", ctype="text/plain")
        self.send(200, json.dumps(out, default=lambda o: sorted(o) if isinstance(o, set) else str(o)),
                  "application/json")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Jenkins test double (see README.md)")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--port-file")
    ap.add_argument("--users", default="admin:admin-token", help="user:token[:perm+perm],...")
    ap.add_argument("--passwords", default="", help="user:password[:perm+perm],... (password auth needs crumbs)")
    ap.add_argument("--version", default="2.426.3", help="X-Jenkins; selects version-dependent behaviour")
    ap.add_argument("--state")
    ap.add_argument("--log")
    ap.add_argument("--idle-timeout", type=float, default=None, help="seconds (default 30, 5 before 2.375)")
    ap.add_argument("--anonymous-read", action="store_true")
    ap.add_argument("--no-csrf", action="store_true")
    opts = ap.parse_args(argv)
    srv = Server(("127.0.0.1", opts.port), opts)
    port = srv.server_address[1]
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, opts.port_file)       # atomic: readers never see a partial file
    print("jenkins double %s listening on http://127.0.0.1:%d/" % (opts.version, port), file=sys.stderr, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
