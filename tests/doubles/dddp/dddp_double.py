#!/usr/bin/python3
"""A Delphix engine (DDDP) test double for dataops-agent (standard library only).

It serves /resources/json/delphix/ as shared/reference/dddp-api.md describes it ("§n" below):
the objects of the workshop topology with all their keys (§5.3), jobs that move RUNNING ->
COMPLETED / FAILED / CANCELED with percentComplete over time and parentActionState in step
(§5.4), session rules with cookie rotation, 401, lockout and the 403 HTML page (§5.5),
both selfservice/ and jetstream/ by API version (§1.5), and fault knobs (§5.6).
Facts the sources did not settle are marked [I] (inferred), as in the reference.
See README.md next to this file for the options and the /_double/ control endpoints.
"""
import argparse, json, os, re, secrets, sys, threading, time
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

BASE = "/resources/json/delphix/"
LOGIN_PAGE = ("<html><head><title>Delphix</title></head><body><h1>HTTP Status 403 - </h1>"
              "<p>Use /resources/json/delphix/login to log in first</p></body></html>")     # §1.3
BOOT_PAGE = ("<html><head><title>Delphix Engine</title></head><body><h1>Engine is booting up</h1>"
             "<p>The Delphix Engine is STARTING UP. Please wait.</p></body></html>")       # §1.3, §4
CONFLICT_ID = "exception.executor.conflict.running.job"    # [I] §4: the real id was not recorded


def iso(t=None):
    t = time.time() if t is None else t
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (int(t * 1000) % 1000)


def vtuple(v):
    return (v.get("major", 0), v.get("minor", 0), v.get("micro", 0))


def parse_version(s):
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", s)
    if not m:
        raise argparse.ArgumentTypeError("version must be MAJOR.MINOR.MICRO")
    return tuple(int(x) for x in m.groups())


def api_error(details, id_, action=None, output=None):
    """ErrorResult with all five APIError keys (§1.2)."""
    return {"type": "ErrorResult", "status": "ERROR",
            "error": {"type": "APIError", "details": details, "action": action, "id": id_,
                      "commandOutput": output, "diagnoses": []}}


def ok(result, job=None, action=None):
    return {"type": "OKResult", "status": "OK", "result": result, "job": job, "action": action}


def listed(items):
    return {"type": "ListResult", "status": "OK", "result": items, "job": None, "action": None,
            "total": len(items), "overflow": False}


class Answer(Exception):
    """Ends a request with this status and body (dict -> JSON, str -> HTML)."""
    def __init__(self, status, body, headers=()):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, list(headers)


class Session:
    def __init__(self, sid, version, created_seq):
        self.sid, self.version, self.user = sid, version, None
        self.last_used = time.time()
        self.expired = False
        self.cursors = {}                  # notification channel -> last seq seen
        self.created_seq = created_seq


class Job:
    def __init__(self, eng, action_type, title, target, details, duration, phases, effect,
                 fail=None, user="USER-2"):
        self.ref, self.action_ref = eng.new_ref("JOB"), eng.new_ref("ACTION")
        self.seq = eng.counters["JOB"]     # the order jobs were started in
        obj = eng.objects[target]
        self.target, self.duration, self.phases, self.effect, self.fail = target, duration, phases, effect, fail
        self.start = time.time()
        self.held = 0.0                    # seconds spent held or queued (they do not count)
        self.end_time = None
        self.next_phase = 0
        self.suspended_at, self.resumed = None, False
        self.data = {"type": "Job", "reference": self.ref, "namespace": None, "name": None,
                     "actionType": action_type, "title": title, "target": target,
                     "targetObjectType": obj["type"], "targetName": eng.target_name(target),
                     "jobState": "RUNNING", "percentComplete": 0.0, "startTime": iso(self.start),
                     "updateTime": iso(self.start), "user": user, "emailAddresses": None,
                     "cancelable": True, "suspendable": False, "queued": False, "cancelReason": None,
                     "parentAction": self.action_ref, "parentActionState": "EXECUTING", "events": []}
        self.action = {"type": "Action", "reference": self.action_ref, "namespace": None,
                       "actionType": action_type, "title": action_type, "details": details,
                       "state": "EXECUTING", "startTime": iso(self.start), "endTime": None,
                       "user": user, "userAgent": "dataops-double-client", "originIp": "127.0.0.1",
                       "parentAction": None, "workSource": "WEBSERVICE",
                       "workSourceName": eng.objects[user]["name"],
                       "report": None, "failureDescription": None, "failureAction": None,
                       "failureMessageCode": None}
        self.event("INFO", None, 0.0, "event.job.started",
                   "%s job started for \"%s\"." % (action_type, self.data["targetName"]))

    def event(self, kind, state, pct, code, details, action=None, output=None):
        self.data["events"].append({"type": "JobEvent", "timestamp": iso(), "state": state,
                                    "percentComplete": float(pct), "eventType": kind, "messageCode": code,
                                    "messageDetails": details, "messageAction": action,
                                    "messageCommandOutput": output, "diagnoses": []})
        self.data["percentComplete"] = float(pct)
        self.data["updateTime"] = iso()

    def finish(self, state, eng):
        """COMPLETED, FAILED or CANCELED; parentActionState mirrors the job (§2.7)."""
        self.data["jobState"] = state
        self.data["parentActionState"] = state
        self.data["cancelable"] = False
        self.action["state"] = state
        self.end_time = time.time()
        self.action["endTime"] = iso(self.end_time)
        eng.running.discard(self)
        eng.notify(self.ref, "Job")


class Engine:
    """The model. One lock; a scheduler thread moves the jobs."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.counters = {}
        self.objects = {}                  # reference -> API object
        self.version_of = {}               # reference -> data version (what the data holds)
        self.jobs = {}                     # JOB-n -> Job
        self.actions = {}                  # ACTION-n -> Job (the action's job) or a dict
        self.running = set()
        self.sessions = {}                 # cookie value -> Session
        self.next_sid = 1
        self.notes, self.note_seq = [], 0
        self.failed_logins, self.locked_until, self.lockouts = 0, 0.0, 0
        self.requests, self.api_requests = [], 0
        self.faults = {}
        self.mode = {"max_version": opts.max_version, "session_timeout": opts.session_timeout,
                     "strict_cookies": True, "job_duration": opts.job_duration, "durations": {},
                     "job_steps": opts.job_steps, "lockout_s": 30.0, "notification_timeout_ms": 3000}
        self.boot_until, self.boot_requests = time.time() + opts.boot_seconds, 0
        self.prod_version = 1
        self.seed(opts.pods)
        threading.Thread(target=self.tick_loop, daemon=True).start()

    # ---------------------------------------------------------------- objects
    def new_ref(self, prefix):
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        return "%s-%d" % (prefix, n)

    def add(self, obj):
        self.objects[obj["reference"]] = obj
        return obj["reference"]

    def by_type(self, *types):
        return [o for o in self.objects.values() if o["type"] in types]

    def named(self, name, *types):
        for o in self.by_type(*types):
            if o.get("name") == name:
                return o
        return None

    def target_name(self, ref):
        o = self.objects[ref]
        if o["type"] in ("AppDataContainer", "OracleDatabaseContainer"):
            return "%s/%s" % (self.objects[o["group"]]["name"], o["name"])
        return o.get("name")

    def database(self, name, group, parent=None, masked=False):
        ref = self.new_ref("APPDATA_CONTAINER")
        tf = self.new_ref("APPDATA_TIMEFLOW")
        self.add({"type": "AppDataContainer", "reference": ref, "namespace": None, "name": name,
                  "group": group, "provisionContainer": parent, "currentTimeflow": tf,
                  "previousTimeflow": None, "masked": masked, "description": None,
                  "creationTime": iso(), "os": "Linux", "processor": "x86_64",
                  "toolkit": "APPDATA_TOOLKIT-1", "guid": secrets.token_hex(16),
                  "performanceMode": "DISABLED", "transformation": False, "restoration": False,
                  "sourcingPolicy": {"type": "SourcingPolicy", "logsyncEnabled": False,
                                     "loadFromBackup": False},
                  "runtime": {"type": "AppDataContainerRuntime", "logSyncActive": False,
                              "preProvisioningStatus": None}})
        self.timeflow(tf, ref, "INITIAL", None)
        ops = {"type": "VirtualSourceOperations", "configureClone": [], "preRefresh": [],
               "postRefresh": [], "preSnapshot": [], "postSnapshot": [], "preStart": [],
               "postStart": [], "preStop": [], "postStop": [], "preRollback": [], "postRollback": []}
        if masked:                          # §2.14: the hook that masks every refresh
            ops["configureClone"].append({"type": "RunBashOnSourceOperation", "name": "Masking Job",
                                          "command": "/home/delphix/masking.sh"})
        virtual = parent is not None
        self.add({"type": "AppDataVirtualSource" if virtual else "AppDataLinkedSource",
                  "reference": self.new_ref("APPDATA_SOURCE"), "namespace": None, "name": name,
                  "container": ref, "config": None, "description": None, "enabled": True,
                  "linked": not virtual, "virtual": virtual, "staging": False, "restoration": False,
                  "parameters": {}, "runtime": {"type": "AppDataSourceRuntime", "status": "RUNNING",
                                                "accessible": True, "databaseSize": 1048576},
                  "operations": ops if virtual else None,
                  "allowAutoVDBRestartOnHostReboot": True if virtual else None})
        self.version_of[ref] = 0
        return ref

    def timeflow(self, tf, db, kind, parent_snapshot):
        self.add({"type": "AppDataTimeflow", "reference": tf, "namespace": None, "name": "default",
                  "container": db, "creationType": kind, "parentSnapshot": parent_snapshot,
                  "parentPoint": None if parent_snapshot is None else
                  {"type": "TimeflowPoint", "timeflow": self.objects[parent_snapshot]["timeflow"],
                   "location": "0"}})

    def snapshot(self, db, version):
        o = self.objects[db]
        ref = self.new_ref("APPDATA_SNAPSHOT")
        now = iso()
        self.add({"type": "AppDataSnapshot", "reference": ref, "namespace": None, "name": "@" + now,
                  "container": db, "timeflow": o["currentTimeflow"], "creationTime": now,
                  "firstChangePoint": {"type": "TimeflowPoint", "timeflow": o["currentTimeflow"], "location": "0"},
                  "latestChangePoint": {"type": "TimeflowPoint", "timeflow": o["currentTimeflow"], "location": "0"},
                  "consistency": "CONSISTENT", "missingNonLoggedData": False, "retention": 0,
                  "runtime": {"type": "SnapshotRuntime", "provisionable": True}, "temporary": False,
                  "timezone": "UTC,+00:00", "version": None, "metadata": {}})
        self.version_of[ref] = version
        return ref

    def operation(self, layout, kind):
        ref = self.new_ref("JS_OPERATION")
        self.add({"type": "JSOperation", "reference": ref, "namespace": None, "name": kind,
                  "dataLayout": layout, "operationType": kind, "startTime": iso(), "endTime": iso()})
        return ref

    def branch(self, layout, name="default"):
        op = self.operation(layout, "CREATE_BRANCH")
        ref = self.add({"type": "JSBranch", "reference": self.new_ref("JS_BRANCH"), "namespace": None,
                        "name": name, "dataLayout": layout, "firstOperation": op, "lastOperation": op,
                        "description": None})
        self.version_of[ref] = 0
        self.objects[ref]["_latest"] = iso()      # the branch's latest data time (internal)
        return ref

    def layout(self, kind, name, extra):
        """A template or a container: all keys DAF reads are non-null strings (§2.4)."""
        ref = self.new_ref("JS_DATA_TEMPLATE" if kind == "JSDataTemplate" else "JS_DATA_CONTAINER")
        obj = {"type": kind, "reference": ref, "namespace": None, "name": name, "activeBranch": None,
               "firstOperation": None, "lastOperation": None, "lastUpdated": iso(), "notes": None,
               "operationCount": 1, "properties": {}}
        obj.update(extra)
        self.add(obj)
        br = self.branch(ref)
        op = self.objects[br]["firstOperation"]
        obj.update({"activeBranch": br, "firstOperation": op, "lastOperation": op})
        return ref

    def datasource(self, layout, db, name, priority=1):
        return self.add({"type": "JSDataSource", "reference": self.new_ref("JS_DATA_SOURCE"), "namespace": None,
                         "name": name, "container": db, "dataLayout": layout, "priority": priority,
                         "description": None, "runtime": {"type": "JSDataSourceRuntime", "enabled": True,
                                                          "status": "ONLINE"}})

    def container(self, name, template, db):
        ref = self.layout("JSDataContainer", name, {"template": template, "owner": None, "state": "ONLINE"})
        self.datasource(ref, db, name)
        return ref

    def seed(self, pods):
        """The workshop topology (§5.3)."""
        self.add({"type": "User", "reference": "USER-1", "namespace": None, "name": "sysadmin",
                  "userType": "SYSTEM", "emailAddress": None, "enabled": True, "isDefault": True})
        self.counters["USER"] = 1
        self.user_ref = self.add({"type": "User", "reference": self.new_ref("USER"), "namespace": None,
                                  "name": self.opts.user, "userType": "DOMAIN", "emailAddress": None,
                                  "enabled": True, "isDefault": False})
        groups = {}
        for g in ("Prod", "Masked Masters", "Non Prod"):
            groups[g] = self.add({"type": "Group", "reference": self.new_ref("GROUP"), "namespace": None,
                                  "name": g, "description": None})
        prod = self.database("Patients Prod", groups["Prod"])
        self.snapshot(prod, self.prod_version)
        mm = self.database("Patients Masked Master", groups["Masked Masters"], parent=prod, masked=True)
        self.version_of[mm] = self.prod_version
        self.snapshot(mm, self.prod_version)
        tmpl = self.layout("JSDataTemplate", "Patients", {"description": None})
        self.datasource(tmpl, mm, "Masked Master")
        self.version_of[tmpl] = self.prod_version
        for i in range(1, pods + 1):
            db = self.database("prep%d" % i, groups["Non Prod"], parent=mm)
            self.version_of[db] = self.prod_version
            c = self.container("prep%d" % i, tmpl, db)
            self.version_of[c] = self.prod_version

    # ---------------------------------------------------------------- notifications (§2.9)
    def notify(self, ref, kind, event="UPDATE"):
        self.note_seq += 1
        self.notes.append((self.note_seq, {"type": "ObjectNotification", "eventType": event,
                                           "object": ref, "objectType": kind}))
        if len(self.notes) > 10000:
            del self.notes[:1000]
        self.cond.notify_all()

    def notifications(self, sess, channel, timeout_ms, max_n):
        deadline = time.time() + timeout_ms / 1000.0
        with self.cond:
            cursor = sess.cursors.setdefault(channel, sess.created_seq)
            while True:
                pending = [n for s, n in self.notes if s > cursor][:max_n]
                if pending or time.time() >= deadline:
                    break
                self.cond.wait(max(0.0, deadline - time.time()))
            first = self.notes[0][0] if self.notes else self.note_seq + 1
            out = []
            if cursor + 1 < first:
                out.append({"type": "NotificationDrop", "dropCount": first - cursor - 1})
            out += pending
            sess.cursors[channel] = cursor + len(pending) if pending else self.note_seq
            return out

    # ---------------------------------------------------------------- jobs (§5.4)
    def duration(self, action_type, target):
        slow = self.faults.get("slow", {})
        name = self.objects[target].get("name")
        if name in slow:
            return float(slow[name])
        return float(self.mode["durations"].get(action_type, self.mode["job_duration"]))

    def failure_for(self, action_type, target):
        name = self.objects[target].get("name")
        f = self.faults
        if action_type == "DB_REFRESH" and self.objects[target].get("masked") and f.get("fail_masking"):
            return {"at": 70.0, "id": "exception.double.hook.failed",     # [I] codes are illustrative
                    "details": "Script \"Masking Job\" failed with exit code 1 during configure clone.",
                    "action": "Check the script output.",
                    "output": "masking execution 17: FAILED: table PATIENTS: column SSN: algorithm "
                              "SSN_SL not found"}
        if action_type == "JETSTREAM_USER_CONTAINER_REFRESH" and name in f.get("fail_pods", []):
            return {"at": 60.0, "id": "exception.jetstream.container.refresh.failed",
                    "details": "Refresh of data container \"%s\" failed: the data source \"%s\" could not "
                               "be provisioned." % (name, name),
                    "action": "Check the data source and try again.",
                    "output": "pg_ctl: could not start server\nExamine the log output."}
        for spec in f.get("fail_jobs", []):
            if spec.get("target") == name and spec.get("action_type", action_type) == action_type:
                return {"at": float(spec.get("at", 50)), "id": spec.get("id", "exception.double.job.failed"),
                        "details": spec.get("details", "The job failed."), "action": spec.get("action"),
                        "output": spec.get("output")}
        return None

    def phases(self, action_type, masked):
        """(percent, messageCode, details) events the job passes through."""
        steps = max(1, int(self.mode["job_steps"]))
        if action_type == "DB_REFRESH":
            ph = [(10, "event.refresh.deprovision", "Removing the previous copy of the database."),
                  (30, "event.refresh.provision", "Provisioning from the latest snapshot.")]
            if masked:
                ph += [(50, "event.virtualsource.configure.clone",
                        "Running configure-clone operation \"Masking Job\"."),
                       (65, "event.masking.progress", "Masking job: 40% of the tables masked."),
                       (85, "event.masking.progress", "Masking job: 100% of the tables masked.")]
            return ph + [(95, "event.refresh.snapshot", "Taking a snapshot of the refreshed database.")]
        return [(round(100.0 * i / steps, 1), "event.job.progress", "%s in progress." % action_type)
                for i in range(1, steps)]

    def start_job(self, action_type, title, target, details, effect, user=None):
        masked = bool(self.objects[target].get("masked"))
        ahead = self.running_on(target)
        job = Job(self, action_type, title, target, details, self.duration(action_type, target),
                  self.phases(action_type, masked), effect, self.failure_for(action_type, target),
                  user or self.user_ref)
        if ahead:                          # §4 engine busy: RUNNING, queued, its action WAITING (§2.7)
            job.data.update({"queued": True, "parentActionState": "WAITING"})
            job.action["state"] = "WAITING"
        self.jobs[job.ref] = job
        self.actions[job.action_ref] = job
        self.running.add(job)
        self.notify(job.ref, "Job", "CREATE")
        return job

    def held(self, job):
        h = self.faults.get("hold")
        if not h or job.data["actionType"] != h.get("action_type"):
            return False
        if time.time() - job.start > float(h.get("timeout", 10)):
            return False
        same = [j for j in self.jobs.values() if j.data["actionType"] == h["action_type"]]
        return len(same) < int(h.get("count", 1))

    def tick_loop(self):
        last = time.time()
        while True:
            time.sleep(0.02)
            now = time.time()
            with self.lock:
                for job in list(self.running):
                    if self.held(job) or self.queued(job) or self.suspended(job, now):
                        job.held += now - last
                        continue
                    self.advance(job, now)
            last = now

    def queued(self, job):
        """A queued job waits until the jobs started before it on its target have ended."""
        if not job.data["queued"]:
            return False
        if [j for j in self.running_on(job.target) if j.seq < job.seq]:
            return True
        job.data.update({"queued": False, "parentActionState": "EXECUTING"})
        job.action["state"] = "EXECUTING"
        self.notify(job.ref, "Job")
        return False

    def suspended(self, job, now):
        """The suspend fault: a job on that target is SUSPENDED (action WAITING, §2.7) for that long."""
        if job.resumed:
            return False
        secs = self.faults.get("suspend", {}).get(self.objects[job.target].get("name"))
        if job.suspended_at is None:
            if secs is None:
                return False
            job.suspended_at = now
            self.set_state(job, "SUSPENDED", "WAITING", "suspended")
            return True
        if secs is not None and now - job.suspended_at < float(secs):
            return True                    # (cleared faults resume it at once)
        job.resumed = True
        self.set_state(job, "RUNNING", "EXECUTING", "resumed")
        return False

    def set_state(self, job, state, action_state, verb):
        job.data.update({"jobState": state, "parentActionState": action_state})
        job.action["state"] = action_state
        job.event("INFO", state, job.data["percentComplete"], "event.job." + verb,
                  "%s job for \"%s\" was %s." % (job.data["actionType"], job.data["targetName"], verb))
        self.notify(job.ref, "Job")

    def advance(self, job, now):
        d = job.data
        pct = 100.0 if job.duration <= 0 else min(100.0, 100.0 * (now - job.start - job.held) / job.duration)
        changed = False
        while job.next_phase < len(job.phases) and job.phases[job.next_phase][0] <= pct:
            p, code, text = job.phases[job.next_phase]
            job.next_phase += 1
            if job.fail and job.fail["at"] <= p:
                break
            job.event("INFO", None, p, code, text)
            changed = True
        if job.fail and pct >= job.fail["at"]:
            f = job.fail
            job.event("ERROR", "FAILED", f["at"], f["id"], f["details"], f["action"], f["output"])
            job.action.update({"failureDescription": f["details"], "failureAction": f["action"],
                               "failureMessageCode": f["id"]})
            job.finish("FAILED", self)
            if job.effect:
                job.effect(False)
            return
        if pct >= 100.0:
            if job.effect:
                job.effect(True)
            job.event("INFO", "COMPLETED", 100.0, "event.job.completed",
                      "%s job for \"%s\" completed successfully." % (d["actionType"], d["targetName"]))
            job.finish("COMPLETED", self)
            self.notify(job.target, self.objects[job.target]["type"])
            return
        if changed:
            self.notify(job.ref, "Job")

    def cancel(self, job, reason="Canceled by the user."):
        if job.data["jobState"] not in ("RUNNING", "SUSPENDED"):
            return False
        job.data["cancelReason"] = reason
        job.event("INFO", "CANCELED", job.data["percentComplete"], "event.job.canceled",
                  "%s job for \"%s\" was canceled." % (job.data["actionType"], job.data["targetName"]))
        job.finish("CANCELED", self)
        if job.effect:
            job.effect(False)
        return True

    def running_on(self, target):
        return [j for j in self.running if j.target == target]

    # ---------------------------------------------------------------- effects on COMPLETED
    def sync_effect(self, db):
        def effect(done):
            if done:
                self.prod_version += 1
                self.snapshot(db, self.prod_version)
        return effect

    def refresh_effect(self, vdb, parent):
        def effect(done):
            if not done:
                return
            o = self.objects[vdb]
            snaps = [s for s in self.by_type("AppDataSnapshot") if s["container"] == parent]
            latest = max(snaps, key=lambda s: int(s["reference"].rsplit("-", 1)[1]))
            tf = self.new_ref("APPDATA_TIMEFLOW")
            self.timeflow(tf, vdb, "REFRESH", latest["reference"])
            o["previousTimeflow"], o["currentTimeflow"] = o["currentTimeflow"], tf
            self.version_of[vdb] = self.version_of[latest["reference"]]
            self.snapshot(vdb, self.version_of[vdb])
            # templates whose data source is this VDB see the new data (§2.6)
            for ds in self.by_type("JSDataSource"):
                if ds["container"] == vdb and self.objects[ds["dataLayout"]]["type"] == "JSDataTemplate":
                    t = self.objects[ds["dataLayout"]]
                    self.version_of[t["reference"]] = self.version_of[vdb]
                    self.layout_operation(t, "REFRESH")
        return effect

    def layout_operation(self, layout, kind):
        op = self.operation(layout["reference"], kind)
        layout.update({"lastOperation": op, "lastUpdated": iso(),
                       "operationCount": layout["operationCount"] + 1})
        br = self.objects[layout["activeBranch"]]
        br["lastOperation"] = op
        br["_latest"] = iso()
        self.version_of[br["reference"]] = self.version_of.get(layout["reference"], 0)

    def container_refresh_effect(self, c):
        def effect(done):
            if not done:
                return
            o = self.objects[c]
            self.version_of[c] = self.version_of[o["template"]]
            for ds in self.by_type("JSDataSource"):
                if ds["dataLayout"] == c:
                    self.version_of[ds["container"]] = self.version_of[c]
            self.layout_operation(o, "REFRESH")
        return effect

    def state_effect(self, c, new_state):
        def effect(done):
            if done:
                self.objects[c]["state"] = new_state
        return effect

    def bookmark_effect(self, bm, layout):
        def effect(done):
            if done:
                b = self.objects[bm]
                b["usable"] = True
                b["timestamp"] = self.objects[self.objects[layout]["activeBranch"]]["_latest"]
                self.version_of[bm] = self.version_of.get(layout, 0)
            else:
                self.objects.pop(bm, None)
        return effect

    def public(self, obj):
        return {k: v for k, v in obj.items() if not k.startswith("_")}


# ==================================================================== HTTP
class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, opts):
        super().__init__(addr, Handler)
        self.opts = opts
        self.engine = Engine(opts)
        self.log_file = open(opts.log, "a", buffering=1) if opts.log else None
        self.log_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache-Coyote/1.1"      # the engine's Tomcat
    sys_version = ""

    def log_message(self, *a):
        pass

    def version_string(self):
        return self.server_version

    # ---------------------------------------------------------------- plumbing
    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        return self.rfile.read(n) if n else b""

    def cookie(self):
        """JSESSIONID from a Cookie header in any shape real clients send (§1.4)."""
        for header in self.headers.get_all("Cookie") or []:
            for pair in header.split(";"):
                k, _, v = pair.strip().partition("=")
                if k == "JSESSIONID" and v:
                    return v
        return None

    def send(self, status, body, headers=()):
        if isinstance(body, (dict, list)):
            data, ctype = json.dumps(body).encode(), "application/json"
        else:
            data, ctype = body.encode(), "text/html;charset=utf-8"
        head = ["HTTP/1.1 %d %s" % (status, HTTPStatus(status).phrase), "Date: " + self.date_time_string(),
                "Server: " + self.server_version, "Content-Type: " + ctype, "Content-Length: %d" % len(data)]
        head += ["%s: %s" % h for h in headers]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        self.wfile.flush()

    def log_request_entry(self, entry):
        srv = self.server
        with srv.log_lock:
            srv.engine.requests.append(entry)
            if srv.log_file:
                srv.log_file.write(json.dumps(entry) + "\n")

    def handle_any(self):
        t0 = time.time()
        url = urlsplit(self.path)
        path, query = unquote(url.path), dict(parse_qsl(url.query, keep_blank_values=True))
        raw = self.read_body()
        if path.startswith("/_double/"):
            return self.control(path[len("/_double/"):], query, raw)
        eng = self.server.engine
        entry = {"t": round(t0, 6), "method": self.command, "path": path, "query": url.query,
                 "session": None, "cookie": self.headers.get("Cookie")}
        try:
            if not path.startswith(BASE):
                raise Answer(404, "<html><body><h1>HTTP Status 404</h1></body></html>")
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                body = "unparsable"
            if isinstance(body, dict) and body.get("type") == "LoginRequest":
                entry["body"] = dict(body, password="****")     # never log the password
            elif body is not None:
                entry["body"] = body
            with eng.lock:
                status, out, headers = self.route(eng, path[len(BASE):].strip("/"), query, body, entry)
        except Answer as a:
            status, out, headers = a.status, a.body, a.headers
        entry["status"] = status
        if isinstance(out, dict):
            entry["result_type"] = out.get("type")
            if out.get("type") == "ErrorResult":
                entry["error_id"] = out["error"]["id"]
            if out.get("job"):
                entry["job"] = out["job"]
        entry["ms"] = round((time.time() - t0) * 1000, 1)
        # logged before the answer goes out, so a serial client's requests are in order
        self.log_request_entry(entry)
        self.send(status, out, headers)

    # ---------------------------------------------------------------- sessions (§5.5)
    def new_session(self, eng, version):
        cookie = secrets.token_hex(16).upper()
        s = Session(eng.next_sid, version, eng.note_seq)
        eng.next_sid += 1
        eng.sessions[cookie] = s
        return cookie, s

    def set_cookie(self, cookie):
        return ("Set-Cookie", "JSESSIONID=%s; Path=/resources; HttpOnly" % cookie)

    def log_in_first(self, eng):
        """403 HTML + a fresh (unauthenticated) cookie (§1.3)."""
        cookie, _ = self.new_session(eng, {"type": "APIVersion", "major": 1, "minor": 0, "micro": 0})
        raise Answer(403, LOGIN_PAGE, [self.set_cookie(cookie)])

    def session(self, eng, need_login, entry):
        cookie = self.cookie()
        s = eng.sessions.get(cookie) if cookie else None
        if s is None:
            self.log_in_first(eng)
        entry["session"] = s.sid
        idle = eng.mode["session_timeout"]
        if s.expired or (idle and time.time() - s.last_used > idle):
            s.expired = True
            entry["expired"] = True
            self.log_in_first(eng)
        if need_login and s.user is None:
            self.log_in_first(eng)
        if need_login:                       # one-shot knob: this request finds its session expired
            eng.api_requests += 1
            n = eng.faults.get("expire_at_request")
            if n and eng.api_requests == int(n):
                eng.faults.pop("expire_at_request")
                s.expired = True
                entry["expired"] = True
                self.log_in_first(eng)
        s.last_used = time.time()
        return s

    # ---------------------------------------------------------------- routing (§5.2)
    def route(self, eng, p, q, body, entry):
        if eng.boot_requests < eng.faults.get("booting_requests", 0) or time.time() < eng.boot_until:
            eng.boot_requests += 1
            entry["booting"] = True
            return 502, BOOT_PAGE, []
        m, seg = self.command, p.split("/") if p else []
        if seg == ["session"] and m == "POST":
            return self.post_session(eng, body, entry)
        if seg == ["login"] and m == "POST":
            return self.post_login(eng, body, entry)
        if seg == ["about"] and m == "GET":
            s = self.session(eng, False, entry)
            mv = eng.mode["max_version"]
            return 200, ok({"type": "PublicSystemInfo", "productName": "Delphix Engine",
                            "buildTitle": "Delphix Engine (double)", "apiVersion":
                            {"type": "APIVersion", "major": mv[0], "minor": mv[1], "micro": mv[2]},
                            "buildVersion": {"type": "VersionInfo", "major": 6, "minor": 0, "micro": 0,
                                             "patch": 0}, "configured": True, "currentLocale": "en-US",
                            "locales": ["en-US"], "enabledFeatures": [], "productType": "standard"}), []
        s = self.session(eng, True, entry)
        if seg == ["session"] and m == "GET":
            return 200, ok({"type": "APISession", "version": s.version, "locale": None, "client": None}), []
        if seg == ["logout"] and m == "POST":
            for c, v in list(eng.sessions.items()):
                if v is s:
                    del eng.sessions[c]
            return 200, ok(None), []
        if seg == ["user", "current"] and m == "GET":
            return 200, ok(eng.objects[s.user]), []
        if seg and seg[0] in ("selfservice", "jetstream"):
            if seg[0] == "selfservice" and vtuple(s.version) < (1, 9, 0):
                # [I] §7: assumed absent below 1.9; shape of the answer not recorded
                raise Answer(404, api_error("The path /%s does not exist in API %d.%d.%d." % (
                    p, *vtuple(s.version)), "exception.webservices.path.notfound"))
            return self.selfservice(eng, s, m, seg[1:], q, body)
        return self.core(eng, s, m, seg, q, body)

    def post_session(self, eng, body, entry):
        if not isinstance(body, dict) or body.get("type") != "APISession" or \
                not isinstance(body.get("version"), dict):
            return 200, api_error("Session parameters are missing or malformed.",
                                  "exception.webservices.session.invalid"), []
        v = body["version"]
        want = vtuple(v)
        if want > tuple(eng.mode["max_version"]) or want < (1, 0, 0):
            return 200, api_error("Invalid API version \"%d.%d.%d\"." % want,
                                  "exception.webservices.session.invalid.version",
                                  "Use a valid API version."), []
        cookie, s = self.new_session(eng, {"type": "APIVersion", "major": want[0], "minor": want[1],
                                           "micro": want[2]})
        entry["session"] = s.sid
        entry["version"] = "%d.%d.%d" % want
        return 200, ok({"type": "APISession", "version": s.version, "locale": body.get("locale"),
                        "client": body.get("client")}), [self.set_cookie(cookie)]

    def post_login(self, eng, body, entry):
        cookie = self.cookie()
        s = eng.sessions.get(cookie) if cookie else None
        if s is None or s.expired:           # [I] login without /session: "log in first"
            self.log_in_first(eng)
        entry["session"] = s.sid
        if not isinstance(body, dict) or body.get("type") != "LoginRequest":
            return 200, api_error("Login parameters are missing or malformed.",
                                  "exception.webservices.login.invalid"), []
        now = time.time()
        if now < eng.locked_until:
            entry["locked"] = True
            return 401, api_error("Invalid username or password.", "exception.webservices.login.failed",
                                  "Try with a different set of credentials."), []
        if body.get("username") != self.server.opts.user or body.get("password") != self.server.password:
            eng.failed_logins += 1
            if eng.failed_logins >= 3:       # §1.4: locked 30 s, then 60 s, 90 s ...
                eng.lockouts += 1
                eng.locked_until = now + eng.mode["lockout_s"] * eng.lockouts
                eng.failed_logins = 0
            return 401, api_error("Invalid username or password.", "exception.webservices.login.failed",
                                  "Try with a different set of credentials."), []
        eng.failed_logins = 0
        s.user = eng.user_ref
        s.last_used = now
        headers = []
        if eng.mode["strict_cookies"]:       # §1.4: a new cookie; the pre-login one stops working
            del eng.sessions[cookie]
            new = secrets.token_hex(16).upper()
            eng.sessions[new] = s
            headers.append(self.set_cookie(new))
        return 200, ok(s.user), headers

    def get_obj(self, eng, ref, *types):
        o = eng.objects.get(ref)
        if o is None or (types and o["type"] not in types):
            # §2.4: >= 400 with object.missing; 404 assumed [I]
            raise Answer(404, api_error("The object \"%s\" does not exist." % ref,
                                        "exception.executor.object.missing"))
        return o

    def typed(self, body, allowed, what):
        """None, {} or a body whose type is one of allowed; else an ErrorResult (§4)."""
        if body is None or body == {}:
            return {}
        if not isinstance(body, dict) or body.get("type") not in allowed:
            raise Answer(200, api_error("Unexpected parameters for %s: type %r." % (
                what, body.get("type") if isinstance(body, dict) else body),
                "exception.webservices.json.type.unknown"))     # [I]
        return body

    def busy(self, eng, target):
        jobs = eng.running_on(target)
        if jobs and eng.faults.get("conflict", True):
            raise Answer(200, api_error("Cannot start the operation: job %s (%s) is running on \"%s\"." % (
                jobs[0].ref, jobs[0].data["actionType"], eng.objects[target]["name"]),
                eng.faults.get("conflict_id", CONFLICT_ID), "Wait for the job to finish."))

    def core(self, eng, s, m, seg, q, body):
        if m == "GET" and len(seg) == 1 and seg[0] in ("database", "source", "group", "environment",
                                                       "repository", "snapshot", "timeflow", "sourceconfig"):
            kinds = {"database": ("AppDataContainer",), "source": ("AppDataLinkedSource", "AppDataVirtualSource"),
                     "group": ("Group",), "snapshot": ("AppDataSnapshot",), "timeflow": ("AppDataTimeflow",),
                     "environment": (), "repository": (), "sourceconfig": ()}[seg[0]]
            items = eng.by_type(*kinds)
            if seg[0] == "database" and q.get("provisionContainer"):
                items = [o for o in items if o["provisionContainer"] == q["provisionContainer"]]
            if seg[0] == "database" and q.get("group"):
                items = [o for o in items if o["group"] == q["group"]]
            if seg[0] in ("source", "snapshot", "timeflow") and q.get("database"):
                items = [o for o in items if o["container"] == q["database"]]
            return 200, listed([eng.public(o) for o in items]), []
        if m == "GET" and len(seg) == 2 and seg[0] in ("database", "source", "group", "snapshot", "timeflow"):
            return 200, ok(eng.public(self.get_obj(eng, seg[1]))), []
        if m == "POST" and len(seg) == 3 and seg[0] == "database" and seg[2] == "sync":
            db = self.get_obj(eng, seg[1], "AppDataContainer")
            self.typed(body, ("SyncParameters", "AppDataSyncParameters"), "sync")
            if db["provisionContainer"] is not None:
                # [I] only dSources sync here (a VDB snapshot would be the same call on a real engine)
                pass
            self.busy(eng, db["reference"])
            job = eng.start_job("DB_SYNC", "Run SnapSync for database \"%s\"." % db["name"], db["reference"],
                                "Snapshot database \"%s\"." % db["name"], eng.sync_effect(db["reference"]))
            return 200, ok("", job.ref, job.action_ref), []
        if m == "POST" and len(seg) == 3 and seg[0] == "database" and seg[2] == "refresh":
            return self.refresh_vdb(eng, seg[1], body)
        if m == "GET" and seg == ["job"]:
            items = list(eng.jobs.values())
            if q.get("jobState"):
                items = [j for j in items if j.data["jobState"] == q["jobState"]]
            if q.get("target"):
                items = [j for j in items if j.target == q["target"]]
            items = items[-int(q.get("pageSize") or 25):]
            # §2.7: list results carry no events and percentComplete 0
            return 200, listed([dict(j.data, events=None, percentComplete=0.0) for j in items]), []
        if len(seg) >= 2 and seg[0] == "job":
            job = eng.jobs.get(seg[1])
            if job is None:
                self.get_obj(eng, seg[1], "Job")     # 404 object.missing, whatever else has that ref
            if m == "GET" and len(seg) == 2:
                return 200, ok(json.loads(json.dumps(job.data))), []
            if m == "POST" and seg[2:] == ["cancel"]:
                if not eng.cancel(job):
                    return 200, api_error("The job %s is not running." % job.ref,
                                          "exception.job.not.running"), []   # [I]
                return 200, ok(None, None, eng.new_ref("ACTION")), []
        if len(seg) >= 2 and seg[0] == "action" and m == "GET":
            a = eng.actions.get(seg[1])
            if a is None:
                self.get_obj(eng, seg[1], "Action")
            if seg[2:] == ["getJob"]:
                return 200, ok(a.ref if isinstance(a, Job) else None), []
            return 200, ok(a.action if isinstance(a, Job) else a), []
        if m == "GET" and seg == ["notification"]:
            channel = q.get("channel") or ""
            timeout = min(int(q.get("timeout") or eng.mode["notification_timeout_ms"]), 20000)
            eng.lock.release()               # the long poll must not hold the model
            try:
                notes = eng.notifications(s, channel, timeout, int(q.get("max") or 100))
            finally:
                eng.lock.acquire()
            return 200, listed(notes), []
        raise Answer(404, api_error("No such API path: %s /%s." % (m, "/".join(seg)),
                                    "exception.webservices.path.notfound"))     # [I]

    def refresh_vdb(self, eng, ref, body):
        vdb = self.get_obj(eng, ref, "AppDataContainer")
        body = self.typed(body, ("RefreshParameters", "AppDataRefreshParameters"), "refresh")
        point = body.get("timeflowPointParameters")
        if not isinstance(point, dict) or point.get("type") != "TimeflowPointSemantic":
            return 200, api_error({"timeflowPointParameters": {"type": "APIError", "details":
                                   "A TimeflowPointSemantic is required.", "action": None,
                                   "id": "exception.validation.field.required", "commandOutput": None,
                                   "diagnoses": []}}, "exception.validation.field.required"), []
        parent = point.get("container") or body.get("container") or vdb["provisionContainer"]
        if parent is None:
            return 200, api_error("Database \"%s\" is a dSource and cannot be refreshed." % vdb["name"],
                                  "exception.database.refresh.not.virtual"), []   # [I]
        self.get_obj(eng, parent, "AppDataContainer")
        if point.get("location", "LATEST_POINT") not in ("LATEST_SNAPSHOT", "LATEST_POINT"):
            return 200, api_error("Unsupported location %r." % point.get("location"),
                                  "exception.validation.enum.invalid"), []
        if not [x for x in eng.by_type("AppDataSnapshot") if x["container"] == parent]:
            return 200, api_error("No snapshot of the parent to refresh from.",
                                  "exception.refresh.no.snapshot"), []          # [I]
        self.busy(eng, vdb["reference"])
        job = eng.start_job("DB_REFRESH", "Refresh database \"%s\"." % vdb["name"], vdb["reference"],
                            "Refresh database \"%s\"." % vdb["name"], eng.refresh_effect(vdb["reference"], parent))
        return 200, ok("", job.ref, job.action_ref), []

    def selfservice(self, eng, s, m, seg, q, body):
        if m == "GET" and seg in (["template"], ["container"], ["branch"], ["bookmark"], ["datasource"],
                                  ["operation"]):
            kind = {"template": "JSDataTemplate", "container": "JSDataContainer", "branch": "JSBranch",
                    "bookmark": "JSBookmark", "datasource": "JSDataSource", "operation": "JSOperation"}[seg[0]]
            items = eng.by_type(kind)
            if seg[0] == "container" and q.get("template"):
                items = [o for o in items if o["template"] == q["template"]]
            if seg[0] in ("branch", "datasource", "operation") and q.get("dataLayout"):
                items = [o for o in items if o["dataLayout"] == q["dataLayout"]]
            if seg[0] == "bookmark":
                if q.get("container") and q.get("template"):
                    return 200, api_error("container and template are mutually exclusive.",
                                          "exception.validation.mutually.exclusive"), []
                if q.get("container"):
                    items = [o for o in items if o["container"] == q["container"]]
                if q.get("template"):
                    items = [o for o in items if o["template"] == q["template"]]
            return 200, listed([eng.public(o) for o in items]), []
        if m == "GET" and len(seg) == 2:
            return 200, ok(eng.public(self.get_obj(eng, seg[1]))), []
        if m == "POST" and seg == ["container"]:
            return self.create_container(eng, s, body)
        if m == "POST" and len(seg) == 3 and seg[0] == "container":
            c = self.get_obj(eng, seg[1], "JSDataContainer")
            return self.container_op(eng, c, seg[2], body)
        if m == "POST" and seg == ["bookmark"]:
            return self.create_bookmark(eng, body)
        if m == "POST" and len(seg) == 3 and seg[0] == "bookmark":
            b = self.get_obj(eng, seg[1], "JSBookmark")
            if seg[2] in ("share", "unshare"):   # §2.13: synchronous, an action already COMPLETED
                b["shared"] = seg[2] == "share"
                a, kind = eng.new_ref("ACTION"), "JETSTREAM_USER_BOOKMARK_" + seg[2].upper()   # [I]
                eng.actions[a] = {"type": "Action", "reference": a, "namespace": None,
                                  "actionType": kind, "title": kind,   # §2.8: recorded titles are the type
                                  "details": "%s bookmark \"%s\"." % (seg[2].capitalize(), b["name"]),
                                  "state": "COMPLETED", "startTime": iso(), "endTime": iso(),
                                  "user": s.user, "userAgent": "", "originIp": "127.0.0.1", "parentAction": None,
                                  "workSource": "WEBSERVICE", "workSourceName": eng.objects[s.user]["name"],
                                  "report": None,
                                  "failureDescription": None, "failureAction": None, "failureMessageCode": None}
                return 200, ok(None, None, a), []
            if seg[2] == "delete":
                del eng.objects[b["reference"]]
                return 200, ok(None, None, eng.new_ref("ACTION")), []
        raise Answer(404, api_error("No such API path: %s /selfservice/%s." % (m, "/".join(seg)),
                                    "exception.webservices.path.notfound"))    # [I]

    def container_op(self, eng, c, op, body):
        name = c["name"]
        if op == "refresh":
            self.typed(body, ("JSDataContainerRefreshParameters",), "refresh")
            self.busy(eng, c["reference"])
            if c["state"] != "ONLINE":
                return 200, api_error("Data container \"%s\" is %s." % (name, c["state"]),
                                      "exception.jetstream.container.not.online"), []   # [I]
            job = eng.start_job("JETSTREAM_USER_CONTAINER_REFRESH",
                                "Refresh Jet Stream data container \"%s\"." % name, c["reference"],
                                "Refresh data container \"%s\"." % name, eng.container_refresh_effect(c["reference"]))
            return 200, ok("", job.ref, job.action_ref), []
        need = {"recover": ("INCONSISTENT", "ONLINE"), "enable": ("OFFLINE", "ONLINE"),
                "disable": ("ONLINE", "OFFLINE")}.get(op)
        if need is None:
            raise Answer(404, api_error("No such operation: %s." % op, "exception.webservices.path.notfound"))
        self.typed(body, ("JSDataContainerDisableParameters", "JSDataContainerEnableParameters"), op)
        if c["state"] != need[0]:
            return 200, api_error("Data container \"%s\" is %s, not %s." % (name, c["state"], need[0]),
                                  "exception.jetstream.container.state.invalid"), []    # [I]
        self.busy(eng, c["reference"])
        job = eng.start_job("JETSTREAM_USER_CONTAINER_" + op.upper(), "%s data container \"%s\"." % (
            op.capitalize(), name), c["reference"], "%s data container \"%s\"." % (op.capitalize(), name),
            eng.state_effect(c["reference"], need[1]))
        return 200, ok("", job.ref, job.action_ref), []

    def create_container(self, eng, s, body):
        body = self.typed(body, ("JSDataContainerCreateWithRefreshParameters",
                                 "JSDataContainerCreateWithoutRefreshParameters",
                                 "JSDataContainerCreateParameters"), "container create")
        name, tmpl = body.get("name"), body.get("template")
        if not name or not isinstance(body.get("dataSources"), list) or not body["dataSources"]:
            return 200, api_error("name and dataSources are required.", "exception.validation.field.required"), []
        t = self.get_obj(eng, tmpl, "JSDataTemplate")
        if eng.named(name, "JSDataContainer"):
            return 200, api_error("A data container named \"%s\" already exists." % name,
                                  "exception.jetstream.container.name.exists"), []    # [I]
        ds = body["dataSources"][0]
        db = self.get_obj(eng, ds.get("container"), "AppDataContainer")
        ref = eng.container(name, t["reference"], db["reference"])
        eng.objects[ref]["owner"] = (body.get("owners") or [None])[0]
        eng.version_of[ref] = 0
        job = eng.start_job("JETSTREAM_ADMIN_CONTAINER_CREATE", "Create Jet Stream data container \"%s\"." % name,
                            ref, "Create data container \"%s\"." % name, eng.container_refresh_effect(ref))
        return 200, ok(ref, job.ref, job.action_ref), []

    def create_bookmark(self, eng, body):
        body = self.typed(body, ("JSBookmarkCreateParameters",), "bookmark create")
        bm, point = body.get("bookmark"), body.get("timelinePointParameters")
        if not isinstance(bm, dict) or bm.get("type") != "JSBookmark" or not bm.get("name") or \
                not isinstance(point, dict) or point.get("type") not in ("JSTimelinePointLatestTimeInput",):
            return 200, api_error("A JSBookmark with a name and a JSTimelinePointLatestTimeInput are required.",
                                  "exception.validation.field.required"), []
        br = self.get_obj(eng, bm.get("branch"), "JSBranch")
        layout = self.get_obj(eng, point.get("sourceDataLayout"), "JSDataTemplate", "JSDataContainer")
        if br["dataLayout"] != layout["reference"]:
            return 200, api_error("Branch %s is not a branch of %s." % (br["reference"], layout["reference"]),
                                  "exception.jetstream.bookmark.branch.mismatch"), []    # [I]
        is_t = layout["type"] == "JSDataTemplate"
        tmpl = layout if is_t else eng.objects[layout["template"]]
        ref = eng.add({"type": "JSBookmark", "reference": eng.new_ref("JS_BOOKMARK"), "namespace": None,
                       "name": bm["name"], "bookmarkType": "DATA_TEMPLATE" if is_t else "DATA_CONTAINER",
                       "branch": br["reference"], "container": None if is_t else layout["reference"],
                       "containerName": None if is_t else layout["name"], "template": tmpl["reference"],
                       "templateName": tmpl["name"], "timestamp": br["_latest"], "creationTime": iso(),
                       "description": bm.get("description"), "expiration": bm.get("expiration"),
                       "shared": bool(bm.get("shared", False)), "tags": list(bm.get("tags") or []),
                       "usable": False, "checkoutCount": 0})
        job = eng.start_job("JETSTREAM_USER_BOOKMARK_CREATE",     # [I] actionType not recorded
                            "Create Jet Stream bookmark \"%s\"." % bm["name"], layout["reference"],
                            "Create bookmark \"%s\"." % bm["name"], eng.bookmark_effect(ref, layout["reference"]))
        return 200, ok(ref, job.ref, job.action_ref), []

    # ---------------------------------------------------------------- control endpoints
    def control(self, what, query, raw):
        eng = self.server.engine
        try:
            arg = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return self.send(400, {"error": "body is not JSON"})
        for k, v in query.items():
            arg[k] = {"true": True, "false": False}.get(v, int(v) if v.isdigit() else v)
        with eng.lock:
            if what == "state":
                out = {"objects": [eng.public(o) for o in eng.objects.values()],
                       "versions": dict(eng.version_of), "prod_version": eng.prod_version,
                       "jobs": [dict(j.data, _end=j.end_time, _start=j.start) for j in eng.jobs.values()],
                       "sessions": len(eng.sessions), "faults": eng.faults,
                       "mode": {k: list(v) if isinstance(v, tuple) else v for k, v in eng.mode.items()}}
            elif what == "requests":
                if self.command == "DELETE":
                    eng.requests.clear()
                out = list(eng.requests)
            elif what == "faults" and self.command == "POST":
                eng.faults = arg
                eng.api_requests = eng.boot_requests = 0
                for name, seconds in (arg.get("busy") or {}).items():
                    o = eng.named(name, "JSDataContainer") or eng.named(name, "AppDataContainer")
                    if o is None:
                        return self.send(404, {"error": "no object %r" % name})
                    job = eng.start_job("JETSTREAM_USER_CONTAINER_REFRESH" if o["type"] == "JSDataContainer"
                                        else "DB_REFRESH", "Refresh \"%s\" (started elsewhere)." % name,
                                        o["reference"], "Started by another user.", None, "USER-1")
                    job.duration = float(seconds)
                out = eng.faults
            elif what == "faults":
                out = eng.faults
            elif what == "mode" and self.command == "POST":
                for k, v in arg.items():
                    if k not in eng.mode:
                        return self.send(400, {"error": "unknown mode %r" % k})
                    eng.mode[k] = parse_version(v) if k == "max_version" else v
                out = {k: list(v) if isinstance(v, tuple) else v for k, v in eng.mode.items()}
            elif what == "boot" and self.command == "POST":
                eng.boot_until = time.time() + float(arg.get("seconds", 0))
                out = {"boot_until": eng.boot_until}
            elif what == "delete" and self.command == "POST":
                o = eng.named(arg.get("name"), arg.get("type", "JSDataContainer"))
                if o is None:
                    return self.send(404, {"error": "no object %r" % arg.get("name")})
                del eng.objects[o["reference"]]
                out = {"deleted": o["reference"]}
            elif what == "set" and self.command == "POST":   # change one key of a named object
                o = eng.named(arg.get("name"), arg.get("type", "JSDataContainer"))
                if o is None:
                    return self.send(404, {"error": "no object %r" % arg.get("name")})
                o.update(arg.get("values", {}))
                out = eng.public(o)
            else:
                return self.send(404, {"error": "unknown control endpoint %s" % what})
        self.send(200, out)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Delphix engine (DDDP) test double (see README.md)")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--port-file")
    ap.add_argument("--user", default="delphix_admin")
    ap.add_argument("--password-file", help="the user's password (default: 'delphix')")
    ap.add_argument("--max-version", type=parse_version, default=(1, 11, 9))
    ap.add_argument("--pods", type=int, default=6)
    ap.add_argument("--job-duration", type=float, default=2.0, help="seconds a job runs")
    ap.add_argument("--job-steps", type=int, default=5, help="progress events per job")
    ap.add_argument("--session-timeout", type=float, default=1800.0, help="idle seconds (0: never)")
    ap.add_argument("--boot-seconds", type=float, default=0.0, help="answer 502 'booting' this long")
    ap.add_argument("--log", help="one JSON line per request")
    opts = ap.parse_args(argv)
    srv = Server(("127.0.0.1", opts.port), opts)
    srv.password = open(opts.password_file).read().rstrip("\n") if opts.password_file else "delphix"
    port = srv.server_address[1]
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, opts.port_file)       # atomic: readers never see a partial file
    print("dddp double listening on http://127.0.0.1:%d%s" % (port, BASE), file=sys.stderr, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
