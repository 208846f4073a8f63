/* scheduler.c - the long-running agent: node, poll loop, executors (see scheduler.h). */
#include "scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cgroup.h"
#include "error.h"
#include "fsutil.h"
#include "jenkins.h"
#include "jobpath.h"
#include "journal.h"
#include "log.h"
#include "proc.h"
#include "publish.h"
#include "run.h"
#include "sdnotify.h"
#include "spool.h"
#include "sync.h"
#include "timeutil.h"
#include "xmalloc.h"

/* How often a run whose live record broke is recorded again before giving up. */
#define SCHEDULER_RERECORD_TRIES 20
/* How often the journal is looked at for claims whose answer was lost (at most). */
#define SCHEDULER_RECONCILE_EVERY_MS (15 * 1000)
/* A cancel request for a run no agent here runs waits this long for the one that runs it. */
#define SCHEDULER_CANCEL_WAIT_MS 5000
/* The longest the main loop sleeps before looking at its flags again. */
#define SCHEDULER_TICK_MS 100

struct scheduler;

/* One executor: a claimed queue item running on its own thread. */
struct slot {
	struct scheduler *s;
	bool busy;                 /* claimed; the thread runs or has to be joined */
	bool done;                 /* the thread has finished */
	pthread_t thread;
	struct jenkins *jenkins;   /* the slot's own connection */
	struct jenkins_queue_item item;
	const struct catalog_operation *op;
	char *env;
	int cancel_fd;
	/*
	 * The run's journal entry, kept current. job, user and params are
	 * item's (borrowed); spool, display_name and description its own.
	 */
	struct journal_entry je;
	char *cancelled_by;        /* who asked to cancel it (under the scheduler's lock) */
};

struct scheduler {
	const struct scheduler_opts *o;
	struct jenkins *jenkins;   /* the main loop's connection */
	struct journal *journal;
	char host[256];
	pthread_mutex_t lock;
	pthread_cond_t changed;    /* a slot finished */
	struct slot *slots;
	unsigned slot_count;
	char *status_posted;       /* the node message we last set */
	bool drained_by_user;
	bool no_room;              /* state_dir below min_free_mb: no claims */
	bool ran_since_sweep;      /* a run went since the last sweep for orphans with none going */
	bool prune_due;            /* a spool was written or released since the last prune */
	bool cancelled;            /* the runs were told to stop */
	unsigned poll_failures;
};

/* The value of parameter name in params, or NULL. */
static const char *scheduler_param(char *const *params, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; params && params[i]; i++)
		if (strncmp(params[i], name, n) == 0 && params[i][n] == '=')
			return params[i] + n + 1;
	return NULL;
}

/* The tag the user asked for: the ref parameter's value, else its default. */
static const char *scheduler_tag(const struct slot *sl)
{
	const struct catalog_param *ref = catalog_ref_param(sl->op);
	const char *v;

	if (ref == NULL)
		return "";
	v = scheduler_param(sl->item.params, ref->name);
	return v ? v : ref->default_value;
}

static void scheduler_sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L }, NULL);
}

/* ---------------------------------------------------------------- a run */

static void slot_header(struct slot *sl, struct spool *sp)
{
	const struct config *cfg = sl->s->o->cfg;

	/* The parameters follow from the run itself, with secret ones masked. */
	spool_printf(sp, "dataops-agent %s on node %s (host %s) claimed queue item %lld of %s, "
		     "triggered by %s\n", DA_VERSION, cfg->jenkins.node, sl->s->host, sl->item.id,
		     sl->item.full_name, sl->item.user ? sl->item.user : "an unknown user");
}

static char *slot_description(const struct slot *sl, const struct run_outcome *oc)
{
	const struct config *cfg = sl->s->o->cfg;
	const char *tag = oc->version ? oc->version : scheduler_tag(sl);

	return xasprintf("Queue item %lld of %s, triggered by %s. Tag %s, %s%s. Run by "
			 "dataops-agent %s on node %s (host %s).", sl->item.id, sl->item.full_name,
			 sl->item.user ? sl->item.user : "an unknown user", *tag ? tag : "(none)",
			 oc->commit[0] ? "commit " : "no commit checked out", oc->commit, DA_VERSION,
			 cfg->jenkins.node, sl->s->host);
}

/*
 * Read back a record Jenkins has just answered 200 to. The 200 comes even
 * when the run ended FAILURE inside Jenkins (jenkins-api.md §7.2 step 7: a
 * missing Run/Update, which naming the run needs, or XML it refused), and
 * then the run has no name of ours: say so, naming the likely cause, rather
 * than log a success. Sending it again would end the same way, so it is
 * not retried. what: "recorded" or "recorded whole".
 */
static void scheduler_check_record(struct jenkins *j, const char *runs_job, long long queue_id,
				   enum run_result result, const char *what)
{
	struct jenkins_record_match m = { 0 };

	if (jenkins_find_finished_record(j, runs_job, queue_id, &m) != 0) {
		log_warn("queue item %lld: %s in %s, but it could not be read back: %s", queue_id,
			 what, runs_job, error_last());
		error_clear();
	} else if (!m.found) {
		log_error("queue item %lld: Jenkins answered 200 to its record in %s, but shows no "
			  "finished run named #%lld: naming a run needs the Run/Update permission, "
			  "which Jenkins user '%s' seems to lack (Jenkins then ends the run FAILURE "
			  "and appends why to its console)", queue_id, runs_job, queue_id,
			  jenkins_user(j));
	} else if (strcmp(m.result, run_result_name(result)) != 0) {
		log_error("queue item %lld: %s in %s #%lld, but Jenkins shows it %s, not %s: its "
			  "console says why", queue_id, what, runs_job, m.number, m.result,
			  run_result_name(result));
	} else {
		log_debug("queue item %lld: %s in %s #%lld", queue_id, what, runs_job, m.number);
	}
}

/*
 * Record a whole run from a finished spool in one record: after the live
 * stream broke, and for runs a crashed agent left behind. note opens the
 * log and says what happened. Up to tries attempts with backoff, one when
 * the agent is stopping. 0 when recorded.
 */
static int scheduler_record(struct jenkins *jenkins, volatile sig_atomic_t *stop,
			    unsigned tries, const char *runs_job, long long queue_id,
			    struct spool *sp, const char *note, enum run_result result,
			    unsigned long duration_ms, const char *display,
			    const char *description)
{
	int rc = DA_ERROR;

	/* Once stopping, one attempt: the journal keeps the rest for the next start. */
	for (unsigned attempt = 0; attempt < tries && (attempt == 0 || *stop == 0); attempt++) {
		struct publish_opts po = { jenkins, runs_job, sp, note, 0, 0 };
		struct publish *pub;

		if (attempt > 0)
			scheduler_sleep_ms(http_backoff_ms(attempt, 1000, 30000));
		rc = publish_start(&pub, &po);
		if (rc != 0)
			continue;
		publish_finish(pub, result, duration_ms, display, description);
		rc = publish_wait(pub, NULL);
		if (rc == 0)
			break;
		log_warn("queue item %lld: recording the run in %s failed: %s", queue_id, runs_job,
			 error_last());
	}
	if (rc == 0) {
		log_info("queue item %lld: recorded whole in %s from %s", queue_id, runs_job,
			 spool_path(sp));
		scheduler_check_record(jenkins, runs_job, queue_id, result, "recorded whole");
	} else
		log_error("queue item %lld: could not record the run in %s; its log stays in %s",
			  queue_id, runs_job, spool_path(sp));
	return rc;
}

/* Write the slot's journal entry in its new state; a failure is logged, the run goes on. */
static void slot_journal(struct slot *sl, enum journal_state state)
{
	sl->je.state = state;
	if (journal_write(sl->s->journal, &sl->je, true) != 0)
		log_error("queue item %lld: %s", sl->item.id, error_last());
}

/* The name of a record: "#<queue id> <tag>" (never ending in a space). */
static char *scheduler_display_name(long long queue_id, const char *tag)
{
	return xasprintf("#%lld %s", queue_id, tag && *tag ? tag : "(no tag)");
}

static void *slot_thread(void *arg)
{
	struct slot *sl = arg;
	struct scheduler *s = sl->s;
	const struct config *cfg = s->o->cfg;
	char *runs_job = jobpath_runs_job(sl->item.full_name);
	char *display = NULL, *description = NULL, *unique = NULL, *by = NULL;
	const char *path;
	struct run_outcome oc = { .result = RUN_FAILURE };
	struct run_opts ro = { 0 };
	struct publish *pub = NULL;
	struct spool *sp = NULL;
	uint64_t start = time_mono_ms(), sent = 0;
	int rc;

	/* Parameters the catalog marks secret are masked from the first byte on. */
	run_redact_secret_params(s->o->redactor, sl->op, sl->item.params);
	unique = xasprintf("q%lld", sl->item.id);
	if (run_spool_open(&sp, cfg, sl->item.full_name, unique, scheduler_tag(sl),
			   s->o->redactor) < 0) {
		/* Nothing can be recorded without a spool: say so in the agent's log. */
		log_error("queue item %lld (%s): %s", sl->item.id, sl->item.full_name, error_last());
		goto out;
	}
	path = spool_path(sp);
	{
		struct publish_opts po = { sl->jenkins, runs_job, sp, NULL, 0, 0 };

		/* Opened before the tag is resolved, so that its errors are in the console too. */
		if (publish_start(&pub, &po) != 0)
			log_warn("queue item %lld: %s", sl->item.id, error_last());
	}
	sl->je.spool = xstrdup(path);
	slot_journal(sl, JOURNAL_RUNNING);
	slot_header(sl, sp);
	ro.cfg = cfg;
	ro.op = sl->op;
	ro.job_name = sl->item.full_name;
	ro.env = sl->env;
	ro.params = sl->item.params;
	ro.agent_envp = s->o->envp;
	ro.console = sp;
	ro.cancel_fd = sl->cancel_fd;
	ro.in_record = true;
	/* A child's output that could not be written fails the run as surely as the console. */
	if (run_execute(&oc, &ro) != 0 || spool_check(sp) != 0) {
		/* The spool cannot take more (a full disk): say it where it can still be said. */
		char *why = xasprintf("\ndataops-agent: the run's log could not be written on node "
				      "%s (%s); the run is marked FAILURE.\n", cfg->jenkins.node,
				      error_last());

		log_error("queue item %lld: the console failed: %s", sl->item.id, error_last());
		oc.result = RUN_FAILURE;
		if (pub)
			publish_set_epilogue(pub, why);
		free(why);
	}
	pthread_mutex_lock(&s->lock);
	by = sl->cancelled_by ? xstrdup(sl->cancelled_by) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (by)
		spool_printf(sp, "dataops-agent: this run was cancelled by %s\n", by);
	display = scheduler_display_name(sl->item.id, oc.version ? oc.version : scheduler_tag(sl));
	description = slot_description(sl, &oc);
	if (by) {
		char *d = xasprintf("%s Cancelled by %s.", description, by);

		free(description);
		description = d;
	}
	sl->je.result = oc.result;
	sl->je.duration_ms = time_mono_ms() - start;
	sl->je.display_name = display;     /* the entry owns them from here */
	sl->je.description = description;
	slot_journal(sl, JOURNAL_FINISHED);
	if (pub)
		publish_finish(pub, oc.result, sl->je.duration_ms, display, description);
	spool_finish(sp);
	rc = pub ? publish_wait(pub, &sent) : DA_ERETRY;
	if (rc == 0) {
		log_info("queue item %lld (%s): %s, recorded in %s (%llu log bytes)", sl->item.id,
			 sl->item.full_name, run_result_name(oc.result), runs_job,
			 (unsigned long long)sent);
		scheduler_check_record(sl->jenkins, runs_job, sl->item.id, oc.result, "recorded");
	} else {
		char *why = xstrdup(pub ? error_last() : "the stream could not be opened");
		struct jenkins_record_match m = { 0 };
		char *partial, *note;

		/* Name the broken partial run, when Jenkins kept it (a restart loses it, §7). */
		if (jenkins_find_record(sl->jenkins, runs_job, sl->item.id, &m) != 0)
			error_clear();
		partial = m.partial ? xasprintf("the partial run is %s #%lld, ended FAILURE",
						runs_job, m.partial) :
				      xasprintf("Jenkins kept no partial run of it in %s", runs_job);
		note = xasprintf("dataops-agent: the live record of queue item %lld broke (%s); %s. "
				 "This record holds the whole run, from the agent's spool %s.\n",
				 sl->item.id, why, partial, path);
		free(partial);

		log_warn("queue item %lld (%s): %s, but its live record broke: %s", sl->item.id,
			 sl->item.full_name, run_result_name(oc.result), why);
		rc = scheduler_record(sl->jenkins, s->o->stop, SCHEDULER_RERECORD_TRIES, runs_job,
				      sl->item.id, sp, note,
				      oc.result, sl->je.duration_ms, display, description);
		free(note);
		free(why);
	}
	/* Recorded: the item's story is over. Otherwise the entry stays for the next start. */
	if (rc == 0 && journal_remove(s->journal, sl->item.id, true) != 0)
		log_error("queue item %lld: %s", sl->item.id, error_last());
out:
	spool_free(sp);
	run_outcome_dispose(&oc);
	free(by);
	free(unique);
	free(runs_job);
	pthread_mutex_lock(&s->lock);
	sl->done = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void slot_clear(struct slot *sl)
{
	jenkins_free(sl->jenkins);
	free(sl->item.full_name);
	free(sl->item.user);
	for (size_t i = 0; i < sl->item.param_count; i++)
		free(sl->item.params[i]);
	free(sl->item.params);
	free(sl->env);
	free(sl->je.spool);
	free(sl->je.display_name);
	free(sl->je.description);
	memset(&sl->je, 0, sizeof(sl->je));
	free(sl->cancelled_by);
	sl->cancelled_by = NULL;
	if (sl->cancel_fd >= 0)
		close(sl->cancel_fd);
	memset(&sl->item, 0, sizeof(sl->item));
	sl->jenkins = NULL;
	sl->env = NULL;
	sl->cancel_fd = -1;
	sl->op = NULL;
	sl->busy = sl->done = false;
}

/* Join the runs that have finished; the number still running. */
static unsigned scheduler_reap(struct scheduler *s)
{
	unsigned running = 0;

	for (unsigned i = 0; i < s->slot_count; i++) {
		struct slot *sl = &s->slots[i];
		bool done;

		pthread_mutex_lock(&s->lock);
		done = sl->busy && sl->done;
		pthread_mutex_unlock(&s->lock);
		if (done) {
			pthread_join(sl->thread, NULL);
			slot_clear(sl);
			s->prune_due = true;
		} else if (sl->busy) {
			running++;
		}
	}
	return running;
}

/* Take ownership of item (moved out of the queue list) and start its run. */
static int scheduler_start(struct scheduler *s, struct slot *sl, struct jenkins_queue_item *item,
			   const struct catalog_operation *op, char *env,
			   const struct journal_entry *je)
{
	int rc;

	sl->item = *item;
	memset(item, 0, sizeof(*item));
	/* The item's strings moved with it: the entry keeps pointing at them. */
	sl->je = *je;
	sl->op = op;
	sl->env = env;
	sl->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sl->busy = true;
	sl->done = false;
	if (sl->cancel_fd < 0) {
		error_set_errno("eventfd");
		rc = DA_ERROR;
		goto fail;
	}
	rc = jenkins_clone(&sl->jenkins, s->jenkins);
	if (rc != 0)
		goto fail;
	s->ran_since_sweep = true;
	rc = pthread_create(&sl->thread, NULL, slot_thread, sl);
	if (rc != 0) {
		error_set("cannot start a run thread: %s", strerror(rc));
		rc = DA_ERROR;
		goto fail;
	}
	return 0;
fail:
	slot_clear(sl);
	return rc;
}

/* --------------------------------------------------------------- node */

/*
 * Create the node, or bring its labels, executors and description up to
 * date: the very code of `sync`, which keeps what it does not manage (node
 * properties, a person's offline cause) when it posts an update.
 */
static int scheduler_register(struct scheduler *s)
{
	int rc = sync_node(s->jenkins, s->o->cfg, false, NULL);

	if (rc == 0)
		log_info("node %s is registered as the catalog and config want it",
			 s->o->cfg->jenkins.node);
	return rc;
}

/* What the node's offline message should say now. */
static char *scheduler_status(struct scheduler *s, bool draining)
{
	struct buf b = BUF_INIT_MAX(4096);
	unsigned n = 0;

	for (unsigned i = 0; i < s->slot_count; i++)
		n += s->slots[i].busy;
	if (n == 0) {
		buf_puts(&b, draining ? "draining: no runs left" :
			     s->no_room ? "idle: waiting for disk space in state_dir" : "idle");
		return buf_detach(&b);
	}
	buf_puts(&b, draining ? "draining: " : "");
	if (n > 1)
		buf_printf(&b, "%u runs: ", n);
	buf_puts(&b, "running ");
	for (unsigned i = 0, k = 0; i < s->slot_count; i++) {
		if (!s->slots[i].busy)
			continue;
		/* Plain characters only: Util.escape would change quotes and double spaces (§2.5). */
		if (buf_printf(&b, "%s%s for queue %lld", k++ ? ", " : "", s->slots[i].item.full_name,
			       s->slots[i].item.id) != 0)
			break;
	}
	return buf_detach(&b);
}

/*
 * Look at the node: has somebody else set its offline cause (drain), or
 * brought it back online (resume)? Then say our state, when it changed.
 */
static int scheduler_node_tick(struct scheduler *s, bool stopping)
{
	const struct config *cfg = s->o->cfg;
	struct jenkins_node node;
	char *msg;
	int rc = jenkins_node_get(s->jenkins, cfg->jenkins.node, &node);

	if (rc == DA_ENOTFOUND) {
		/* Deleted under us: register again, so that the jobs' label has its node. */
		log_warn("node %s is gone from Jenkins; registering it again", cfg->jenkins.node);
		free(s->status_posted);
		s->status_posted = NULL;
		return scheduler_register(s);
	}
	if (rc != 0)
		return rc;
	if (node.temporarily_offline && node.offline_user &&
	    strcmp(node.offline_user, jenkins_user(s->jenkins)) != 0) {
		if (!s->drained_by_user)
			log_info("node %s was marked offline by %s (%s): claiming nothing until it is "
				 "brought back online", cfg->jenkins.node, node.offline_user,
				 node.offline_message ? node.offline_message : "");
		s->drained_by_user = true;
		jenkins_node_dispose(&node);
		return 0;       /* their message stays: it says why */
	}
	if (s->drained_by_user) {
		log_info("node %s is back online: claiming again", cfg->jenkins.node);
		s->drained_by_user = false;
		free(s->status_posted);
		s->status_posted = NULL;
	}
	msg = scheduler_status(s, stopping);
	/* Also when the message is ours but someone cleared it (brought online). */
	if (s->status_posted == NULL || strcmp(s->status_posted, msg) != 0 ||
	    !node.temporarily_offline) {
		rc = jenkins_node_set_message(s->jenkins, cfg->jenkins.node, msg);
		sdnotify("STATUS=%s", msg);
		if (rc == 0) {
			free(s->status_posted);
			s->status_posted = msg;
			msg = NULL;
		}
	}
	free(msg);
	jenkins_node_dispose(&node);
	return rc;
}

/* --------------------------------------------------------------- queue */

static struct slot *scheduler_free_slot(struct scheduler *s)
{
	for (unsigned i = 0; i < s->slot_count; i++)
		if (!s->slots[i].busy)
			return &s->slots[i];
	return NULL;
}

/* The busy slot running queue item id, or NULL. */
static struct slot *scheduler_slot_of(struct scheduler *s, long long id)
{
	for (unsigned i = 0; i < s->slot_count; i++)
		if (s->slots[i].busy && s->slots[i].item.id == id)
			return &s->slots[i];
	return NULL;
}

/* --------------------------------------------------- cancel requests */

/* Remove parameter name from an item's parameters; its value (new string) or NULL. */
static char *scheduler_take_param(struct jenkins_queue_item *it, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < it->param_count; i++) {
		if (strncmp(it->params[i], name, n) == 0 && it->params[i][n] == '=') {
			char *v = xstrdup(it->params[i] + n + 1);

			free(it->params[i]);
			memmove(&it->params[i], &it->params[i + 1],
				(it->param_count - i) * sizeof(*it->params));
			it->param_count--;
			return v;
		}
	}
	return NULL;
}

/* Record what a cancel request did, as a small record of its own in the job's runs. */
static void scheduler_record_request(struct scheduler *s, const struct jenkins_queue_item *req,
				     long long target, const char *what)
{
	const struct config *cfg = s->o->cfg;
	char *runs_job = jobpath_runs_job(req->full_name);
	char *unique = xasprintf("q%lld", req->id);
	char *display = xasprintf("#%lld cancel #%lld", req->id, target);
	char *description = xasprintf("Queue item %lld of %s, triggered by %s: a request to cancel "
				      "queue item %lld. %s", req->id, req->full_name,
				      req->user ? req->user : "an unknown user", target, what);
	struct spool *sp = NULL;

	if (run_spool_open(&sp, cfg, req->full_name, unique, "cancel", s->o->redactor) == 0) {
		spool_printf(sp, "dataops-agent %s on node %s: %s asked to cancel queue item %lld "
			     "of %s.\n%s\n", DA_VERSION, cfg->jenkins.node,
			     req->user ? req->user : "an unknown user", target, req->full_name, what);
		spool_finish(sp);
		scheduler_record(s->jenkins, s->o->stop, 3, runs_job, req->id, sp, NULL,
				 RUN_NOT_BUILT, 0, display, description);
		s->prune_due = true;
	} else {
		log_error("cancel request %lld: %s", req->id, error_last());
	}
	spool_free(sp);
	free(description);
	free(display);
	free(unique);
	free(runs_job);
}

/*
 * A cancel request (a trigger job's build with SCHEDULER_CANCEL_PARAM set):
 * claimed by the agent that runs its target, or, after a few seconds, by
 * any agent when no agent runs the target.
 */
static void scheduler_cancel_request(struct scheduler *s, struct jenkins_queue_item *req,
				     const char *value)
{
	char *end, *what = NULL, *runs_job = NULL;
	long long target;
	struct slot *sl;
	struct jenkins_record_match m;
	enum jenkins_item_state st;
	uint64_t one = 1;

	errno = 0;
	target = strtoll(value, &end, 10);
	sl = (errno == 0 && end != value && *end == '\0' && target > 0) ?
	     scheduler_slot_of(s, target) : NULL;
	if (sl == NULL && time_wall_ms() - req->in_queue_since < SCHEDULER_CANCEL_WAIT_MS)
		return;        /* the agent that runs it may not have seen it yet */
	if (errno != 0 || end == value || *end != '\0' || target <= 0) {
		if (jenkins_claim(s->jenkins, req->id) == 0)
			scheduler_record_request(s, req, 0, "Nothing done: " SCHEDULER_CANCEL_PARAM
						 " must be the queue id of a run (the number after #)");
		return;
	}
	if (sl) {
		if (jenkins_claim(s->jenkins, req->id) != 0)
			return;
		pthread_mutex_lock(&s->lock);
		free(sl->cancelled_by);
		sl->cancelled_by = xasprintf("%s (queue item %lld)",
					     req->user ? req->user : "an unknown user", req->id);
		pthread_mutex_unlock(&s->lock);
		if (write(sl->cancel_fd, &one, sizeof(one)) < 0)
			log_error("cannot cancel queue item %lld: %s", target, strerror(errno));
		log_info("queue item %lld: cancelled by %s", target, sl->cancelled_by);
		what = xasprintf("The run on node %s was stopped: its processes got SIGTERM, then "
				 "SIGKILL after the grace period; its record says ABORTED.",
				 s->o->cfg->jenkins.node);
		scheduler_record_request(s, req, target, what);
		free(what);
		return;
	}
	/* Nobody here runs it: is any agent running it, or has one recorded it? */
	runs_job = jobpath_runs_job(req->full_name);
	if (jenkins_find_record(s->jenkins, runs_job, target, &m) != 0 || m.running) {
		free(runs_job);
		return;        /* the agent that runs it answers */
	}
	if (m.found) {
		what = xasprintf("Nothing to cancel: it already finished (%s, %s #%lld).", m.result,
				 runs_job, m.number);
	} else if (jenkins_queue_item_state(s->jenkins, target, &st) == 0 &&
		   st == JENKINS_ITEM_QUEUED) {
		/* Taking it out of the queue is cancelling it (the claim's own call). */
		what = jenkins_claim(s->jenkins, target) == 0 ?
		       xstrdup("It was still waiting in the queue: removed from the queue, it will not run.") :
		       NULL;
	} else {
		what = xasprintf("Nothing to cancel: no agent runs it and %s has no record of it.",
				 runs_job);
	}
	if (what && jenkins_claim(s->jenkins, req->id) == 0)
		scheduler_record_request(s, req, target, what);
	free(what);
	free(runs_job);
}

/* Room for a run's spool and workspace? Logs the change between yes and no. */
static bool scheduler_has_room(struct scheduler *s)
{
	const struct config *cfg = s->o->cfg;
	struct statvfs v;
	unsigned long long free_mb;
	bool room;

	if (statvfs(cfg->agent.state_dir, &v) != 0)
		return true;    /* cannot tell: the spool's own errors will say */
	free_mb = (unsigned long long)v.f_bavail * v.f_frsize / (1024 * 1024);
	room = free_mb >= cfg->agent.min_free_mb;
	if (!room && !s->no_room)
		log_warn("only %llu MiB free in %s (min_free_mb %u): claiming nothing until there "
			 "is room", free_mb, cfg->agent.state_dir, cfg->agent.min_free_mb);
	else if (room && s->no_room)
		log_info("%llu MiB free in %s again: claiming", free_mb, cfg->agent.state_dir);
	s->no_room = !room;
	return room;
}

/* One look at the queue: claim what is ours while executors are free. */
static int scheduler_poll(struct scheduler *s)
{
	struct jenkins_queue q;
	struct candidate {
		struct jenkins_queue_item *it;
		const struct catalog_operation *op;
		char *env;
	} *cand = NULL;
	size_t ncand = 0, free_slots = 0;
	bool room;
	int rc = jenkins_queue_list(s->jenkins, &q);

	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < s->slot_count; i++)
		free_slots += !s->slots[i].busy;
	cand = xcalloc(free_slots + 1, sizeof(*cand));
	/* One look at the disk per poll, and only when there is an executor to fill. */
	room = free_slots > 0 && scheduler_has_room(s);
	/* First what is ours, in queue order; cancel requests are answered on the way. */
	for (size_t i = 0; i < q.count && !*s->o->stop; i++) {
		struct jenkins_queue_item *it = &q.items[i];
		const struct catalog_operation *op;
		char *env = NULL, *cancel;

		if (scheduler_slot_of(s, it->id) != NULL)
			continue;
		op = catalog_match(s->o->cat, it->full_name, &env);
		if (op == NULL || !config_serves_env(s->o->cfg, env)) {
			free(env);
			continue;
		}
		/* The cancel parameter is the agent's, never the operation's. */
		cancel = scheduler_take_param(it, SCHEDULER_CANCEL_PARAM);
		if (cancel && *cancel) {
			scheduler_cancel_request(s, it, cancel);
			free(cancel);
			free(env);
			continue;
		}
		free(cancel);
		if (ncand == free_slots || !room) {
			/* Busy or no room: later items may still be cancel requests. */
			free(env);
			continue;
		}
		cand[ncand++] = (struct candidate){ it, op, env };
	}
	/*
	 * Each claim is written down before it is asked for: if its answer is
	 * lost, the journal knows to look. One sync makes the whole batch
	 * durable (a sync per claim made a burst of claims 14 ms each).
	 */
	for (size_t i = 0; i < ncand && rc == 0; i++) {
		struct journal_entry je = { .queue_id = cand[i].it->id, .state = JOURNAL_CLAIMING,
					    .job = cand[i].it->full_name, .user = cand[i].it->user,
					    .params = cand[i].it->params, .since_ms = time_wall_ms() };

		rc = journal_write(s->journal, &je, false);
	}
	if (rc == 0 && ncand)
		rc = journal_sync(s->journal);
	if (rc != 0) {
		log_error("%s; claiming nothing until it can be written", error_last());
		rc = DA_ERETRY;
		ncand = 0;
	}
	for (size_t i = 0; i < ncand && !*s->o->stop; i++) {
		struct jenkins_queue_item *it = cand[i].it;
		struct journal_entry je = { .queue_id = it->id, .state = JOURNAL_CLAIMING,
					    .job = it->full_name, .user = it->user,
					    .params = it->params, .since_ms = time_wall_ms() };
		int crc = jenkins_claim(s->jenkins, it->id);

		if (crc == DA_ECONFLICT) {
			log_debug("%s", error_last());
			error_clear();
			/* Lazy: come back, it is reconciled as somebody else's. */
			journal_remove(s->journal, it->id, false);
			continue;
		}
		if (crc != 0) {
			/* Unknown: the item may have been removed by our request (reconciled later). */
			log_warn("%s", error_last());
			if (crc == DA_EAUTH) {
				rc = crc;
				break;
			}
			continue;
		}
		/* Lazy: lost, it reads as "claiming" and is reconciled; the run's "running" is durable. */
		je.state = JOURNAL_CLAIMED;
		if (journal_write(s->journal, &je, false) != 0)
			log_error("queue item %lld: %s", it->id, error_last());
		log_info("claimed queue item %lld: %s for %s", it->id, it->full_name,
			 it->user ? it->user : "an unknown user");
		if (scheduler_start(s, scheduler_free_slot(s), it, cand[i].op, cand[i].env, &je) != 0)
			/* Claimed but cannot run: the journal entry (claimed) is found at the next start. */
			log_error("queue item %lld claimed but not started: %s", it->id,
				  error_last());
		cand[i].env = NULL;   /* the slot owns it now (or freed it) */
	}
	/* Candidates not asked for (a stop, a refused token): their entries are reconciled. */
	for (size_t i = 0; i < free_slots; i++)
		free(cand[i].env);
	free(cand);
	jenkins_queue_dispose(&q);
	return rc;
}

/* --------------------------------------------- the journal's leftovers */

/*
 * A claim whose answer never came (or a claimed item that never ran): if
 * the item is still queued it is nobody's yet; if it left and no agent
 * runs or recorded it within [agent] claim_reconcile, trigger it again with
 * the same parameters, so the user's request is not silently dropped
 * (jenkins-api.md §6.2, §9 point 4). 0 when the entry's story is over.
 */
static int scheduler_reconcile_claim(struct scheduler *s, const struct journal_entry *e,
				     bool ours)
{
	enum jenkins_item_state st = JENKINS_ITEM_GONE;
	struct jenkins_record_match m;
	char *runs_job = jobpath_runs_job(e->job);
	long long again = -1;
	int rc = ours ? 0 : jenkins_queue_item_state(s->jenkins, e->queue_id, &st);

	if (rc != 0)
		goto out;
	if (!ours && st == JENKINS_ITEM_QUEUED) {
		log_info("queue item %lld: still queued; our claim did not take it", e->queue_id);
		goto out;
	}
	if (!ours && st == JENKINS_ITEM_STARTED) {
		log_warn("queue item %lld: taken by a Jenkins executor, not by an agent", e->queue_id);
		goto out;
	}
	rc = jenkins_find_record(s->jenkins, runs_job, e->queue_id, &m);
	if (rc != 0)
		goto out;
	if (m.found || m.running) {
		log_info("queue item %lld: %s by an agent in %s", e->queue_id,
			 m.found ? "recorded" : "being run", runs_job);
		goto out;
	}
	if (!ours && time_wall_ms() - e->since_ms < (long long)s->o->cfg->agent.claim_reconcile_ms) {
		rc = DA_ERETRY;         /* maybe another agent is about to open its record */
		goto out;
	}
	rc = jenkins_build(s->jenkins, e->job, e->params, &again);
	if (rc == 0)
		log_warn("queue item %lld of %s (by %s): %s, and no agent runs or recorded it; "
			 "triggered it again with the same parameters as queue item %lld",
			 e->queue_id, e->job, e->user ? e->user : "an unknown user",
			 ours ? "claimed by this agent, which stopped before running it" :
				"the answer to our claim was lost", again);
out:
	free(runs_job);
	return rc;
}

/* Record a run the agent was running (or had finished) when it died, from its spool. */
static int scheduler_recover_run(struct scheduler *s, const struct journal_entry *e)
{
	char *runs_job = jobpath_runs_job(e->job);
	struct jenkins_record_match m;
	struct spool *sp = NULL;
	char *note = NULL, *display = NULL, *description = NULL;
	char stamp[64];
	time_t t = (time_t)(e->since_ms / 1000);
	struct tm tm;
	int rc = jenkins_find_record(s->jenkins, runs_job, e->queue_id, &m);

	if (rc != 0 || m.found) {
		if (m.found)
			log_info("queue item %lld: already recorded as %s #%lld", e->queue_id,
				 runs_job, m.number);
		goto out;
	}
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (e->spool == NULL || spool_open_finished(&sp, e->spool) != 0) {
		log_warn("queue item %lld: its spool %s is gone; recording what is known",
			 e->queue_id, e->spool ? e->spool : "(none)");
		rc = spool_open_finished(&sp, "/dev/null");
		if (rc != 0)
			goto out;
	}
	if (e->state == JOURNAL_FINISHED) {
		note = xasprintf("dataops-agent: this run of queue item %lld (claimed %s) finished, "
				 "but its record did not reach Jenkins then (Jenkins unreachable, or "
				 "the agent stopped); recorded later from its spool %s.\n",
				 e->queue_id, stamp, e->spool ? e->spool : "(lost)");
		rc = scheduler_record(s->jenkins, s->o->stop, 1, runs_job, e->queue_id, sp, note,
				      e->result, e->duration_ms, e->display_name, e->description);
	} else {
		note = xasprintf("dataops-agent: the agent stopped (crash or SIGKILL) during this "
				 "run of queue item %lld (claimed %s by %s); its processes were ended "
				 "when it restarted. This is the log it wrote until then, from its "
				 "spool %s.\n", e->queue_id, stamp, e->user ? e->user : "an unknown user",
				 e->spool ? e->spool : "(lost)");
		display = scheduler_display_name(e->queue_id, "interrupted");
		description = xasprintf("Queue item %lld of %s, triggered by %s. Interrupted: the "
					"agent on node %s stopped during the run; recorded at its "
					"restart.", e->queue_id, e->job,
					e->user ? e->user : "an unknown user",
					s->o->cfg->jenkins.node);
		rc = scheduler_record(s->jenkins, s->o->stop, 1, runs_job, e->queue_id, sp, note,
				      RUN_FAILURE, 0, display, description);
	}
out:
	spool_free(sp);
	free(note);
	free(display);
	free(description);
	free(runs_job);
	return rc;
}

struct spool_file {
	char *path;
	long long mtime;
	unsigned long long size;
};

static int spool_file_cmp(const void *a, const void *b)
{
	const struct spool_file *x = a, *y = b;

	return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 : strcmp(x->path, y->path);
}

/* Is path the spool of a journal entry or of a run going on? */
static bool scheduler_spool_in_use(struct scheduler *s, const char *path,
				   const struct journal_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].spool && strcmp(v[i].spool, path) == 0)
			return true;
	for (unsigned i = 0; i < s->slot_count; i++)
		if (s->slots[i].busy && s->slots[i].je.spool && strcmp(s->slots[i].je.spool, path) == 0)
			return true;
	return false;
}

/*
 * Spool space is bounded: the spools of recorded runs are kept newest
 * first up to [agent] keep_runs_mb; the rest are removed. A spool that
 * the journal or a running run still needs is never touched.
 */
static void scheduler_prune_runs(struct scheduler *s, const struct journal_entry *v, size_t n)
{
	const struct config *cfg = s->o->cfg;
	char *dir = xasprintf("%s/runs", cfg->agent.state_dir);
	unsigned long long keep = (unsigned long long)cfg->agent.keep_runs_mb * 1024 * 1024, total = 0;
	struct spool_file *f = NULL;
	size_t count = 0, cap = 0, removed = 0;
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		struct stat st;
		char *path;
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    scheduler_spool_in_use(s, path, v, n)) {
			free(path);
			continue;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			f = xreallocarray(f, cap, sizeof(*f));
		}
		f[count++] = (struct spool_file){ path, (long long)st.st_mtime,
						  (unsigned long long)st.st_size };
	}
	if (d)
		closedir(d);
	if (count > 1)
		qsort(f, count, sizeof(*f), spool_file_cmp);
	for (size_t i = 0; i < count; i++) {
		total += f[i].size;
		if (total > keep && unlink(f[i].path) == 0)
			removed++;
		free(f[i].path);
	}
	if (removed)
		log_info("removed the spools of %zu recorded runs from %s (keep_runs_mb %u)", removed,
			 dir, cfg->agent.keep_runs_mb);
	free(f);
	free(dir);
}

/*
 * Finish what the journal holds that no run of ours is busy with: at start
 * what a crashed agent left (startup), later what could not be finished
 * then, claims whose answer was lost and runs whose record never reached
 * Jenkins. One attempt each per pass; the next pass tries again.
 */
static void scheduler_reconcile(struct scheduler *s, bool startup)
{
	struct journal_entry *v;
	size_t n;

	if (journal_list(s->journal, &v, &n) != 0) {
		log_error("%s", error_last());
		return;
	}
	for (size_t i = 0; i < n && *s->o->stop < 2; i++) {
		struct journal_entry *e = &v[i];
		int rc;

		/* Later passes take what is left: lost claims, runs whose record failed. */
		if (scheduler_slot_of(s, e->queue_id) != NULL)
			continue;
		if (startup)
			log_info("journal: queue item %lld of %s was %s when the agent stopped",
				 e->queue_id, e->job, journal_state_name(e->state));
		if (e->state == JOURNAL_CLAIMING || e->state == JOURNAL_CLAIMED)
			rc = scheduler_reconcile_claim(s, e, e->state == JOURNAL_CLAIMED);
		else
			rc = scheduler_recover_run(s, e);
		if (rc == 0 && journal_remove(s->journal, e->queue_id, true) == 0)
			s->prune_due = true;   /* its spool is no longer the journal's */
		else if (rc != 0 && rc != DA_ERETRY)
			log_warn("journal: queue item %lld: %s (tried again later)", e->queue_id,
				 error_last());
	}
	/* Not on every pass: reading and sizing every spool is only worth it after a change. */
	if (startup || s->prune_due) {
		scheduler_prune_runs(s, v, n);
		s->prune_due = false;
	}
	journal_entries_free(v, n);
}

/* The next poll, poll_interval from now less up to 20% jitter: never later than the interval. */
static uint64_t scheduler_next_poll(const struct config *cfg)
{
	unsigned iv = cfg->agent.poll_interval_ms;
	unsigned jitter = iv / 5 ? (unsigned)random() % (iv / 5 + 1) : 0;

	return time_mono_ms() + iv - jitter;
}

/* Tell every running run to stop (the second stop request). */
static void scheduler_cancel_runs(struct scheduler *s)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < s->slot_count; i++)
		if (s->slots[i].busy && s->slots[i].cancel_fd >= 0 &&
		    write(s->slots[i].cancel_fd, &one, sizeof(one)) < 0)
			log_warn("cannot cancel the run of queue item %lld: %s",
				 s->slots[i].item.id, strerror(errno));
	s->cancelled = true;
}

/* Sleep until deadline, a finished run or a stop request. */
static void scheduler_wait(struct scheduler *s, uint64_t deadline)
{
	uint64_t now = time_mono_ms();
	unsigned ms = deadline > now ? (unsigned)(deadline - now) : 0;
	struct timespec ts = time_deadline(CLOCK_MONOTONIC,
					   ms > SCHEDULER_TICK_MS ? SCHEDULER_TICK_MS : ms);

	pthread_mutex_lock(&s->lock);
	pthread_cond_timedwait(&s->changed, &s->lock, &ts);
	pthread_mutex_unlock(&s->lock);
}

/*
 * The agent's cgroup under its own (cgroup.h): named after its state_dir,
 * which one agent holds at a time, so the steps' cgroups it prunes at start
 * are its own crashed predecessor's and never a neighbour's.
 */
static const char *scheduler_cgroup_name(const struct config *cfg, char *out, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */

	for (const char *p = cfg->agent.state_dir; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3u;
	snprintf(out, len, "dataops-agent-%016llx", (unsigned long long)h);
	return out;
}

int scheduler_run(const struct scheduler_opts *o)
{
	const struct config *cfg = o->cfg;
	struct scheduler s = { .o = o };
	uint64_t next_poll = 0, next_reconcile, stop_at = 0, reconcile_every;
	unsigned running = 0;
	char *procs;
	const char *no_cgroup;
	char cgname[64];
	int killed;
	bool announced_drain = false;
	int rc;

	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (gethostname(s.host, sizeof(s.host) - 1) != 0)
		snprintf(s.host, sizeof(s.host), "unknown");
	rc = journal_open(&s.journal, cfg->agent.state_dir);
	if (rc != 0)
		return rc;
	/* Each step in a cgroup of its own, where the host lets us (cgroup.h). */
	rc = cgroup_setup(cfg->agent.cgroup, scheduler_cgroup_name(cfg, cgname, sizeof(cgname)),
			  &no_cgroup);
	if (rc < 0) {
		journal_free(s.journal);
		return rc;
	}
	if (rc == 1)
		log_info("each step runs in a cgroup of its own under %s", cgroup_parent());
	else
		log_info("steps run in process groups, without cgroups: %s", no_cgroup);
	/* What a crashed agent's steps left running goes first: no run may act twice. */
	procs = xasprintf("%s/procs", cfg->agent.state_dir);
	killed = proc_kill_registered(procs);
	if (killed > 0)
		log_warn("ended %d processes left by an earlier agent's runs", killed);
	/* Step cgroups a crash left unregistered (between their mkdir and the registry). */
	killed = cgroup_prune(PROC_CGROUP_PREFIX);
	if (killed > 0)
		log_info("removed %d step cgroups left by an earlier agent", killed);
	rc = proc_set_registry(procs);
	free(procs);
	/* Processes that leave their group (setsid) come back to us when orphaned. */
	if (rc == 0 && proc_set_subreaper() != 0)
		log_warn("%s: a process a step detaches may outlive its run", error_last());
	if (rc == 0)
		rc = jenkins_open_config(&s.jenkins, cfg, o->envp, o->jenkins_wait_ms, o->stop);
	if (rc != 0) {
		journal_free(s.journal);
		(void)cgroup_setup("off", NULL, &no_cgroup);
		return rc;
	}
	log_info("connected to Jenkins %s at %s as %s", jenkins_version(s.jenkins),
		 jenkins_url(s.jenkins), jenkins_user(s.jenkins));
	rc = scheduler_register(&s);
	if (rc != 0) {
		jenkins_free(s.jenkins);
		journal_free(s.journal);
		(void)cgroup_setup("off", NULL, &no_cgroup);
		return rc;
	}
	pthread_mutex_init(&s.lock, NULL);
	{
		/* Monotonic: a wall clock set back must not stall the loop for the difference. */
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&s.changed, &attr);
		pthread_condattr_destroy(&attr);
	}
	s.slot_count = cfg->agent.executors;
	s.slots = xcalloc(s.slot_count, sizeof(*s.slots));
	for (unsigned i = 0; i < s.slot_count; i++) {
		s.slots[i].s = &s;
		s.slots[i].cancel_fd = -1;
	}
	log_info("serving %zu operations as node %s with %u executors, polling every %u ms",
		 o->cat->op_count, cfg->jenkins.node, s.slot_count, cfg->agent.poll_interval_ms);
	scheduler_reconcile(&s, true);
	reconcile_every = cfg->agent.claim_reconcile_ms < SCHEDULER_RECONCILE_EVERY_MS ?
			  cfg->agent.claim_reconcile_ms : SCHEDULER_RECONCILE_EVERY_MS;
	next_reconcile = time_mono_ms() + reconcile_every;
	sdnotify("READY=1\nSTATUS=serving as node %s", cfg->jenkins.node);

	for (;;) {
		bool stopping = *o->stop >= 1;
		uint64_t now;

		running = scheduler_reap(&s);
		if (stopping && !announced_drain) {
			log_info("stopping: claiming nothing more; waiting up to %u s for %u runs "
				 "(stop again to cancel them)", cfg->agent.stop_grace_ms / 1000, running);
			announced_drain = true;
			stop_at = time_mono_ms();
			sdnotify("STOPPING=1\nSTATUS=draining: %u runs left", running);
		}
		if (stopping && running == 0)
			break;
		if (*o->stop >= 2 && !s.cancelled) {
			log_warn("second stop request: cancelling %u runs", running);
			scheduler_cancel_runs(&s);
		}
		if (stopping && !s.cancelled && time_mono_ms() - stop_at >= cfg->agent.stop_grace_ms) {
			log_warn("stop_grace of %u s is over: cancelling %u runs",
				 cfg->agent.stop_grace_ms / 1000, running);
			scheduler_cancel_runs(&s);
		}
		now = time_mono_ms();
		if (now >= next_reconcile) {
			scheduler_reconcile(&s, false);
			next_reconcile = now + reconcile_every;
		}
		if (now >= next_poll) {
			int prc;

			/*
			 * Orphans a run left (setsid'd helpers): reaped while runs go
			 * on, ended once none does. An agent that ran nothing since
			 * its last idle sweep has none and reads no /proc.
			 */
			if (running > 0 || s.ran_since_sweep) {
				int swept = proc_sweep_orphans(running == 0);

				if (swept > 0 && running == 0)
					log_info("ended or reaped %d processes that runs had detached",
						 swept);
				s.ran_since_sweep = running > 0;
			}
			prc = scheduler_node_tick(&s, stopping);
			if (prc == 0 && !stopping && !s.drained_by_user)
				prc = scheduler_poll(&s);
			if (prc == DA_EAUTH) {
				log_error("%s; stopping", error_last());
				rc = DA_EAUTH;
				*o->stop = *o->stop ? *o->stop : 1;
			} else if (prc != 0) {
				unsigned delay = http_backoff_ms(s.poll_failures++, 1000, 60000);

				log_warn("%s; polling again in %.1f s", error_last(), delay / 1000.0);
				next_poll = time_mono_ms() + delay;
				continue;
			} else {
				s.poll_failures = 0;
			}
			next_poll = scheduler_next_poll(cfg);
		}
		scheduler_wait(&s, next_poll);
	}
	proc_sweep_orphans(true);
	/* Leave a message that says the agent is gone, unless a person's message is there. */
	if (!s.drained_by_user && jenkins_node_set_message(s.jenkins, cfg->jenkins.node,
							   "stopped") != 0)
		log_warn("%s", error_last());
	log_info("stopped");
	free(s.slots);
	free(s.status_posted);
	journal_free(s.journal);
	proc_set_registry(NULL);
	(void)cgroup_setup("off", NULL, &no_cgroup);
	pthread_cond_destroy(&s.changed);
	pthread_mutex_destroy(&s.lock);
	jenkins_free(s.jenkins);
	return rc;
}
