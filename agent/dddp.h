/*
 * dddp.h - a client of the Delphix engine (DDDP) REST API, for the
 * data-refresh pipeline (shared/reference/dddp-api.md, "§n" below).
 *
 * Why a module of its own rather than common/http.c: the engine is
 * nothing like Jenkins. It keeps a session in a cookie that rotates at
 * login, answers errors with HTTP 200 and an ErrorResult body, says
 * "log in again" with a 403 HTML page, and runs every operation as a job
 * that has to be polled. http.c is Jenkins' client: API tokens, and no
 * way to send a Cookie header, read Set-Cookie or stop a transfer when
 * cancel_fd turns readable. So this one drives its own curl handle and
 * takes only the jittered backoff (http_backoff_ms) from http.c.
 *
 * One struct dddp is one engine session on one curl handle, used by ONE
 * thread at a time: parallel branches each open their own (the workshop's
 * tools opened 13 at once, §5.1), so they share nothing. The session is
 * opened lazily by the first call: POST session with API 1.10.0 (or the
 * engine's own maximum from GET about when it refuses that), then POST
 * login; 1.9.0 and later use the selfservice/ paths, older ones jetstream/.
 *
 * Every answer is checked in its body, since an ErrorResult comes with
 * HTTP 200; errors name the call and carry the engine's id, details,
 * suggested action and command output. A refused login (401) is never
 * retried: the engine locks the user out after 3 failures. A 403 "log in
 * first" page means the session expired: the client opens a new session
 * and logs in once, then repeats the call (safe for a POST too, since the
 * engine refused it before doing anything). An engine that is booting or
 * unreachable is waited for with jittered backoff, up to boot_wait_ms.
 *
 * The password is copied, sent only in the LoginRequest body (built in a
 * buffer that is wiped afterwards) and never written to a message or log.
 */
#ifndef DA_DDDP_H
#define DA_DDDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

struct dddp;

/* A job as last seen (§2.7). Strings are never NULL ("" when absent). */
struct dddp_job {
	char ref[64];           /* "JOB-12" */
	char action_type[64];   /* "DB_REFRESH" */
	char state[16];         /* RUNNING, SUSPENDED, COMPLETED, FAILED, CANCELED */
	char parent_state[16];  /* EXECUTING, WAITING, COMPLETED, FAILED, CANCELED */
	double percent;         /* percentComplete */
	char *title;
	char *target_name;
	/* The last ERROR event, else the last WARNING one: */
	char *event_type;       /* "ERROR", "WARNING" or "" */
	char *event_code;       /* messageCode */
	char *event_details;    /* messageDetails */
	char *event_action;     /* messageAction */
	char *event_output;     /* messageCommandOutput */
	char *last_message;     /* messageDetails of the newest event */
};

/* An engine's APIError (§1.2), as kept from the last ErrorResult. */
struct dddp_error {
	long http_status;
	char *id;               /* "exception.webservices.login.failed", "" when none */
	char *details;          /* a map of field errors is kept as compact JSON */
	char *action;
	char *command_output;
};

/*
 * A job moved: called once for each new event of the job (its percentage
 * and messageDetails), and when the state or percentage changed without
 * an event. job is as last seen.
 */
typedef void dddp_progress_cb(const struct dddp_job *job, double percent, const char *message,
			      void *payload);
typedef void dddp_note_cb(const char *message, void *payload);

struct dddp_opts {
	const char *url;           /* http(s)://engine[:port], no credentials; the API path is added */
	const char *user;
	const char *password;      /* secret; copied, wiped on free */
	const char *ca_file;       /* CA bundle; NULL for the system store */
	long connect_timeout_ms;   /* 0: 10 s */
	long timeout_ms;           /* one request; 0: 60 s */
	unsigned boot_wait_ms;     /* an engine booting or unreachable is waited for this long; 0: 120 s */
	unsigned busy_wait_ms;     /* a target with a running job is waited for this long; 0: 150 s */
	unsigned poll_max_ms;      /* the longest pause between two looks at a job; 0: 5 s */
	int cancel_fd;             /* readable: stop (a running job is cancelled); -1: none */
	dddp_progress_cb *progress; /* a job's state or percentage changed; may be NULL */
	dddp_note_cb *note;        /* something worth a console line (re-login, waits); may be NULL */
	void *payload;
};

#define DDDP_OPTS_INIT { NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, -1, NULL, NULL, NULL }

/* Make a client; no network yet. DA_EINVALID on a bad URL or a missing user or password. */
int dddp_new(struct dddp **out, const struct dddp_opts *opts);
/* Log out when logged in (best effort), then free; wipes the password. NULL is fine. */
void dddp_free(struct dddp *d);

/* Open a session and log in now (the calls below do it when needed). */
int dddp_login(struct dddp *d);
/* How many times a LoginRequest was sent (tests, the report). */
unsigned dddp_login_count(const struct dddp *d);
/* The negotiated API version ("1.10.0"), "" before the first session. Borrowed. */
const char *dddp_api_version(const struct dddp *d);
/* "selfservice" or "jetstream" (§1.5). Borrowed. */
const char *dddp_namespace(const struct dddp *d);
/* The APIError of the last call's ErrorResult or refused login. Borrowed, NULL when none. */
const struct dddp_error *dddp_last_error(const struct dddp *d);

/*
 * One call: method "GET" or "POST", path under /resources/json/delphix/
 * ("database", "job/JOB-1"), body borrowed (NULL: GET, or a POST of {}).
 * *out gets the whole answer (new reference) when it is an OKResult or a
 * ListResult. DA_EAUTH login refused or the session lost again; DA_ENOTFOUND
 * for exception.executor.object.missing; DA_ERETRY when the engine stayed
 * unreachable or booting; DA_ECANCELLED; DA_ERROR for an ErrorResult or an
 * answer that is not the engine's.
 */
int dddp_call(struct dddp *d, json_t **out, const char *method, const char *path, json_t *body);

/*
 * The object of a collection ("database", "selfservice/template",
 * "selfservice/container?template=JS_DATA_TEMPLATE-1") with this name,
 * new reference. DA_ENOTFOUND names the object and lists what is there.
 */
int dddp_find(struct dddp *d, json_t **out, const char *collection, const char *what,
	      const char *name);

/*
 * Wait for a job to end, looking at it with jittered backoff (and the
 * engine's notification long poll, §2.9, so an end is seen at once).
 * 0 when it COMPLETED; DA_ERROR when it FAILED or was CANCELED (the
 * message holds its last error event); DA_ETIMEOUT at deadline_ms
 * (monotonic; 0 = none) and DA_ECANCELLED on cancel_fd, after asking the
 * engine to cancel the job. *out is filled in every case; dispose it.
 */
int dddp_job_wait(struct dddp *d, struct dddp_job *out, const char *job, uint64_t deadline_ms);
void dddp_job_dispose(struct dddp_job *j);

/*
 * The pipeline's actions (§6). Each finds its objects by name, waits for
 * a target that is busy with another job (up to busy_wait_ms, then
 * DA_ECONFLICT), starts the operation and waits for its job as
 * dddp_job_wait does. *job is filled whenever a job was started.
 */
/* Snapshot a dSource (sync). */
int dddp_sync(struct dddp *d, struct dddp_job *job, const char *database, uint64_t deadline_ms);
/* Refresh a VDB from its parent's latest snapshot (masking runs inside, §2.14). */
int dddp_refresh(struct dddp *d, struct dddp_job *job, const char *vdb, uint64_t deadline_ms);
/*
 * Spin up a data pod: refresh the self-service container of the template
 * (recovering or enabling it first when needed); when it does not exist
 * and create is set, create it from the template on the VDB of the same
 * name. *created tells which happened (may be NULL).
 */
int dddp_container_refresh(struct dddp *d, struct dddp_job *job, bool *created,
			   const char *template_name, const char *container, bool create,
			   uint64_t deadline_ms);

struct dddp_bookmark_opts {
	const char *template_name;
	const char *container;     /* NULL or "": a bookmark of the template itself */
	const char *name;
	const char *const *tags;   /* NULL-terminated; NULL for none */
	bool shared;
};

/*
 * Bookmark a container's (or the template's) latest data. *ref_out:
 * "JS_BOOKMARK-7" (new string) once the engine made it, else NULL.
 */
int dddp_bookmark(struct dddp *d, struct dddp_job *job, char **ref_out,
		  const struct dddp_bookmark_opts *o, uint64_t deadline_ms);

/* ---- for the unit tests (semi-private) ---- */

/* What one answer was. */
struct dddp__answer {
	json_t *root;           /* new: the answer when it was an OKResult or ListResult */
	bool session_gone;      /* 403 page "log in first": the session expired */
	bool booting;           /* 502/503, or a page saying the engine is starting up */
	struct dddp_error error;
};

/*
 * Classify an answer (status, Content-Type, body of len bytes, followed by
 * a NUL) of the call named by what ("POST https://e/resources/json/delphix/login").
 * Writes the error
 * message. 0 for OKResult/ListResult; DA_EAUTH for 401 and 403; DA_ERETRY
 * when booting; DA_ENOTFOUND for object.missing; DA_ERROR otherwise.
 */
int dddp__answer_parse(struct dddp__answer *a, long status, const char *content_type,
		       const char *body, size_t len, const char *what);
void dddp__answer_dispose(struct dddp__answer *a);
/* The JSESSIONID value of a Set-Cookie header value; DA_ENOTFOUND when it has none. */
int dddp__cookie_parse(char *out, size_t outlen, const char *set_cookie);
/* Fill j from a Job object (borrowed). DA_ERROR when it is not one. */
int dddp__job_parse(struct dddp_job *j, const json_t *job);
/* Append s to b as a JSON string literal, quotes included. */
int dddp__json_quote(struct buf *b, const char *s);

void dddp_error_dispose(struct dddp_error *e);

#endif
