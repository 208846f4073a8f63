/*
 * jenkins.h - the calls the agent makes to Jenkins' remote API, each with
 * the traps of jenkins-api.md handled in one place.
 *
 * A struct jenkins is one connection (one struct http_client) plus who we
 * are: a thread uses its own (jenkins_clone). Every call returns 0 or a
 * negative DA_E* code with a message naming the method, the URL, the HTTP
 * status and Jenkins' own words (X-Error, X-Required-Permission).
 *
 * What each part relies on:
 * - Version: the claim through cancelItem is sound only from 2.211 on
 *   (§6.3): jenkins_hello reads X-Jenkins and refuses older.
 * - Items are named by their full name "Deploy/dev/DataPipeline/Kafka";
 *   URLs nest "/job/<segment>" per level with each segment URL-encoded.
 * - Nodes: `offline` is always true for an HTTP-only node (§2.1), so only
 *   `temporarilyOffline` and its cause say anything. The agent shows its
 *   state in the offline message through changeOfflineCause, never
 *   toggleOffline blindly (a toggle). Messages keep to characters that
 *   Util.escape leaves alone so the read-back reason equals what was sent.
 * - Queue: read with a tree= filter; items are found by the task's full
 *   name and their parameters, never by `why` text (localized, §5.3).
 * - Claim: POST cancelItem. 204 is ours; 500 means "unknown" (a stale
 *   object or a lost race, §6.2), so the item is re-read and the claim
 *   retried while it is still queued; 404 or a left item is somebody
 *   else's.
 */
#ifndef DA_JENKINS_H
#define DA_JENKINS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "http.h"

struct jenkins;

struct jenkins_opts {
	const char *url;        /* Jenkins root URL */
	const char *user;
	const char *token;      /* API token (secret; copied, never logged) */
	const char *ca_file;    /* NULL: the system store */
	long timeout_ms;        /* per request; 0: 30 s */
	long stream_stall_s;    /* a run record that moves no byte this long is dead; 0: 60 s */
};

/* The oldest Jenkins whose cancelItem tells the winner (jenkins-api.md §6.3). */
#define JENKINS_MIN_MAJOR 2
#define JENKINS_MIN_MINOR 211

int jenkins_new(struct jenkins **out, const struct jenkins_opts *opts);
/* Another connection with the same settings, for another thread. */
int jenkins_clone(struct jenkins **out, const struct jenkins *j);
void jenkins_free(struct jenkins *j);
struct http_client *jenkins_http(struct jenkins *j);
const char *jenkins_user(const struct jenkins *j);
const char *jenkins_url(const struct jenkins *j);

/*
 * GET /api/json: credentials work, Overall/Read granted, X-Jenkins at
 * least 2.211. DA_ERETRY when Jenkins is unreachable or answers 5xx
 * (callers back off and retry); DA_EAUTH on a refused token or a missing
 * permission; DA_EINVALID for an older or unknown version, or an answer
 * that is not Jenkins.
 */
int jenkins_hello(struct jenkins *j);
/*
 * jenkins_new + jenkins_hello from the config: [jenkins] url and user must
 * be set, the token comes from DATAOPS_JENKINS_TOKEN in envp or from
 * [jenkins] token_file. While Jenkins is unreachable or answers 5xx
 * (DA_ERETRY), says so in the agent's log and tries again with jittered
 * backoff for up to wait_ms (0: once, -1: until *stop becomes true; stop
 * may be NULL). Any other error returns at once.
 */
int jenkins_open_config(struct jenkins **out, const struct config *cfg, char *const *envp,
			long wait_ms, volatile sig_atomic_t *stop);

/* X-Jenkins of the last hello, or NULL. Borrowed. */
const char *jenkins_version(const struct jenkins *j);

/* "/job/A/job/B%20C" for "A/B C" (new string); "" for "". */
char *jenkins_item_url_path(const char *full_name);
/*
 * The full name of a job from its absolute URL ("http://j/job/A/job/B/" ->
 * "A/B"), for answers without fullName. NULL when the URL is not a job URL.
 */
char *jenkins_full_name_from_url(const char *url);

/* ---- items: folders and jobs (§3) */

/* GET <item>/config.xml into out (cleared first). DA_ENOTFOUND when missing. */
int jenkins_item_config(struct jenkins *j, const char *full_name, struct buf *out);
/* POST <parent>/createItem?name=. DA_ECONFLICT when an item of that name exists. */
int jenkins_item_create(struct jenkins *j, const char *full_name, const char *config_xml);
/* POST <item>/config.xml (UTF-8 declared, §3.3). */
int jenkins_item_update(struct jenkins *j, const char *full_name, const char *config_xml);

/*
 * POST <job>/buildWithParameters?delay=0sec with params ("NAME=VALUE",
 * NULL-terminated) as a form body. 201 and 303 (folded into an identical
 * queued item, §4) both give the queue id from Location.
 */
int jenkins_build(struct jenkins *j, const char *full_name, char *const *params,
		  long long *queue_id);

/* ---- nodes (§2) */

/* A node's offline state; what sync manages is compared on its config.xml instead. */
struct jenkins_node {
	char *name;
	bool temporarily_offline;
	char *offline_user;       /* who set the offline cause; NULL when none */
	char *offline_message;    /* the message as sent (unescaped); NULL when none */
};

/* GET /computer/N/api/json. DA_ENOTFOUND when there is no such node. */
int jenkins_node_get(struct jenkins *j, const char *name, struct jenkins_node *out);
void jenkins_node_dispose(struct jenkins_node *n);

struct jenkins_node_spec {
	const char *name;
	const char *description;
	const char *labels;       /* space-separated */
	unsigned executors;
	const char *remote_fs;
};

/* The node's config.xml for spec (new string): an EXCLUSIVE JNLP DumbSlave. */
char *jenkins_node_xml(const struct jenkins_node_spec *spec);
/* POST /computer/doCreateItem (the form API of every version). DA_ECONFLICT when it exists. */
int jenkins_node_create(struct jenkins *j, const struct jenkins_node_spec *spec);
/* GET/POST /computer/N/config.xml. Posting drops the offline cause (>= 2.482, §2.4). */
int jenkins_node_config(struct jenkins *j, const char *name, struct buf *out);
int jenkins_node_update(struct jenkins *j, const char *name, const char *config_xml);
/* POST changeOfflineCause: the node shows message as its offline reason. */
int jenkins_node_set_message(struct jenkins *j, const char *name, const char *message);

/* ---- the queue (§5, §6) */

struct jenkins_queue_item {
	long long id;
	char *full_name;          /* of the task */
	char *user;               /* who triggered it; NULL when unknown */
	char **params;            /* "NAME=VALUE", NULL-terminated, never NULL */
	size_t param_count;
	long long in_queue_since; /* ms since the epoch; 0 when absent */
};

struct jenkins_queue {
	struct jenkins_queue_item *items;
	size_t count;
};

/* GET /queue/api/json?tree=... DA_EINVALID (with the place) on an answer that is not the queue. */
int jenkins_queue_list(struct jenkins *j, struct jenkins_queue *out);
/*
 * Parse a queue answer. what names its source in errors. Items that are not
 * usable (no id, no task) are skipped; a body that is not a queue is
 * DA_EINVALID. For tests and the fuzz target as well.
 */
int jenkins_queue_parse(const char *json, size_t len, const char *what, struct jenkins_queue *out);
void jenkins_queue_dispose(struct jenkins_queue *q);

enum jenkins_item_state {
	JENKINS_ITEM_QUEUED,     /* still waiting, blocked or buildable */
	JENKINS_ITEM_CANCELLED,  /* a LeftItem with cancelled:true */
	JENKINS_ITEM_STARTED,    /* a LeftItem with an executable: a real executor took it */
	JENKINS_ITEM_GONE,       /* 404: unknown, expired, or not visible */
};

int jenkins_queue_item_state(struct jenkins *j, long long id, enum jenkins_item_state *out);
/* Parse one item's JSON into a state. */
int jenkins_queue_item_state_parse(const char *json, size_t len, enum jenkins_item_state *out);

/*
 * Claim a queued item: POST /queue/cancelItem?id=. 0 when this call took
 * it; DA_ECONFLICT when somebody else did (or it left the queue); another
 * code when Jenkins could not be asked (the item may or may not be ours:
 * the caller records that, issue of the journal). A 500 is re-read and
 * retried while the item is still queued, a bounded number of times.
 */
int jenkins_claim(struct jenkins *j, long long id);

/* ---- runs of the -runs External Jobs (§7.7) */

struct jenkins_record_match {
	bool running;              /* an in-progress run's console shows an agent's claim of it */
	bool found;
	long long number;          /* the run's number in the runs job */
	long long partial;         /* a broken live record of it (FAILURE, no name of ours); 0: none */
	char result[16];           /* "SUCCESS", ... */
};

/*
 * Is there a finished record of queue item queue_id in runs_job? Records
 * are named "#<queue id> <tag>" (scheduler.h). In-progress runs have no
 * name of ours yet: their console is searched for the agent's first line
 * ("claimed queue item N of"), which sets running. Looks at the newest
 * 100 runs.
 */
int jenkins_find_record(struct jenkins *j, const char *runs_job, long long queue_id,
			struct jenkins_record_match *out);

/*
 * The same, for finished records only: no console is read, so it costs
 * one request however many runs are in progress. For reading back a record
 * just sent; running and partial stay unset.
 */
int jenkins_find_finished_record(struct jenkins *j, const char *runs_job, long long queue_id,
				 struct jenkins_record_match *out);

#endif
