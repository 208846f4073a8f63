/*
 * dddp.c - the Delphix engine client (see dddp.h for what and why).
 *
 * Layers, bottom up: dddp_perform (one HTTP exchange on the session's
 * curl handle, cookie taken from every answer), dddp__answer_parse (what
 * the answer was), dddp_call (login when needed, one re-login on a lost
 * session, waits while the engine boots), lookups by name, job waits,
 * and the pipeline's actions.
 *
 * Every request starts from curl_easy_reset() and re-applies the options,
 * so nothing of one request leaks into the next while the connection is
 * kept. The JSESSIONID cookie is ours, not curl's cookie engine: we take
 * the newest one from every answer (the engine rotates it at login,
 * §1.4) and send exactly "Cookie: JSESSIONID=<value>".
 */
#define _GNU_SOURCE /* strcasestr */
#include "dddp.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DDDP_API_PATH "/resources/json/delphix/"
/* The version we speak: 5.3's schema, with selfservice/ (§1.5). */
#define DDDP_WANT_MAJOR 1
#define DDDP_WANT_MINOR 10
#define DDDP_WANT_MICRO 0
#define DDDP_MAX_ANSWER ((size_t)16 << 20)
#define DDDP_DEFAULT_CONNECT_MS 10000L
#define DDDP_DEFAULT_TIMEOUT_MS 60000L
#define DDDP_DEFAULT_BOOT_WAIT_MS 120000u
#define DDDP_DEFAULT_BUSY_WAIT_MS 150000u
#define DDDP_DEFAULT_POLL_MAX_MS 5000u
#define DDDP_POLL_MIN_MS 100u
/* How much of a foreign page or a long engine text goes into a message. */
#define DDDP_TEXT_MAX 300
#define DDDP_OUTPUT_MAX 2000

struct dddp {
	CURL *curl;
	char *base;             /* url + DDDP_API_PATH */
	char *user;
	char *password;
	char *ca_file;
	long connect_timeout_ms;
	long timeout_ms;
	unsigned boot_wait_ms;
	unsigned busy_wait_ms;
	unsigned poll_max_ms;
	int cancel_fd;
	dddp_progress_cb *progress;
	dddp_note_cb *note;
	void *payload;

	char cookie[128];       /* JSESSIONID value, "" when none */
	bool logged_in;
	bool in_login;          /* session/login calls never re-login themselves */
	bool notifications;     /* the engine's long poll works */
	bool watch_cancel;      /* abort the transfer when cancel_fd turns readable */
	unsigned logins;
	unsigned version[3];
	char version_str[32];
	char user_ref[64];      /* "USER-2" */
	char channel[32];       /* our notification channel */
	struct dddp_error last; /* of the last call; id NULL when it had none */
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t dddp_once = PTHREAD_ONCE_INIT;
static CURLcode dddp_global_rc;

static void dddp_global_init(void)
{
	dddp_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers -------------------------------------------------------- */

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

/* A string member of obj, or "" (borrowed). */
static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

/* Copy outside text into a message: printable ASCII, at most max bytes. */
static void text_clip(struct buf *b, const char *s, size_t len, size_t max)
{
	size_t n = 0;
	bool space = false;

	for (size_t i = 0; i < len && n < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			space = n > 0;
			continue;
		}
		if (space) {
			buf_putc(b, ' ');
			n++;
		}
		space = false;
		buf_putc(b, c >= 0x20 && c < 0x7f ? (char)c : '?');
		n++;
	}
	if (n >= max)
		buf_puts(b, "...");
}

/* The readable part of an HTML page: its <title> and <h1>, else its start. */
static void html_gist(struct buf *b, const char *body, size_t len)
{
	static const char *const tags[] = { "<title>", "<h1>", "<p>" };
	bool any = false;

	for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
		const char *start = strcasestr(body, tags[t]), *end;

		if (!start || (size_t)(start - body) >= len)
			continue;
		start += strlen(tags[t]);
		end = strchr(start, '<');
		if (!end || end == start)
			continue;
		buf_puts(b, any ? " / " : "");
		text_clip(b, start, (size_t)(end - start), 120);
		any = true;
	}
	if (!any)
		text_clip(b, body, len, 120);
}

int dddp__json_quote(struct buf *b, const char *s)
{
	int rc = buf_putc(b, '"');

	for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
		if (*p == '"' || *p == '\\')
			rc = buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			rc = buf_printf(b, "\\u%04x", *p);
		else
			rc = buf_putc(b, (char)*p);
	}
	return rc == 0 ? buf_putc(b, '"') : rc;
}

void dddp_error_dispose(struct dddp_error *e)
{
	if (!e)
		return;
	free(e->id);
	free(e->details);
	free(e->action);
	free(e->command_output);
	memset(e, 0, sizeof(*e));
}

void dddp_job_dispose(struct dddp_job *j)
{
	if (!j)
		return;
	free(j->title);
	free(j->target_name);
	free(j->event_type);
	free(j->event_code);
	free(j->event_details);
	free(j->event_action);
	free(j->event_output);
	free(j->last_message);
	memset(j, 0, sizeof(*j));
}

static void job_init(struct dddp_job *j)
{
	memset(j, 0, sizeof(*j));
	j->title = xstrdup("");
	j->target_name = xstrdup("");
	j->event_type = xstrdup("");
	j->event_code = xstrdup("");
	j->event_details = xstrdup("");
	j->event_action = xstrdup("");
	j->event_output = xstrdup("");
	j->last_message = xstrdup("");
}

static void copy_field(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

static void replace(char **field, const char *value)
{
	free(*field);
	*field = dup_or_empty(value);
}

static int event_rank(const char *type)
{
	return strcmp(type, "ERROR") == 0 ? 2 : strcmp(type, "WARNING") == 0 ? 1 : 0;
}

/*
 * Fill j from a Job object, reading its events from index from on: the
 * engine sends a job's whole event list at every look, and the earlier
 * ones are in j already (their best ERROR/WARNING is j->event_type).
 */
static int job_update(struct dddp_job *j, const json_t *job, size_t from)
{
	const json_t *events, *pct;
	int best = from ? event_rank(j->event_type) : 0; /* 2 ERROR, 1 WARNING */

	if (!json_is_object(job) || strcmp(jstr(job, "type"), "Job") != 0 ||
	    !*jstr(job, "reference") || !*jstr(job, "jobState")) {
		error_set("the engine's answer is not a Job object");
		return DA_ERROR;
	}
	copy_field(j->ref, sizeof(j->ref), jstr(job, "reference"));
	copy_field(j->action_type, sizeof(j->action_type), jstr(job, "actionType"));
	copy_field(j->state, sizeof(j->state), jstr(job, "jobState"));
	copy_field(j->parent_state, sizeof(j->parent_state), jstr(job, "parentActionState"));
	pct = json_object_get(job, "percentComplete");
	j->percent = json_is_number(pct) ? json_number_value(pct) : 0.0;
	if (from == 0) { /* a job's title and target do not change while it runs */
		replace(&j->title, jstr(job, "title"));
		replace(&j->target_name, jstr(job, "targetName"));
	}
	events = json_object_get(job, "events");
	for (size_t i = from; i < json_array_size(events); i++) {
		const json_t *ev = json_array_get(events, i);
		const char *type = jstr(ev, "eventType");
		int rank = event_rank(type);

		if (*jstr(ev, "messageDetails"))
			replace(&j->last_message, jstr(ev, "messageDetails"));
		if (rank == 0 || rank < best)
			continue;
		best = rank;
		replace(&j->event_type, type);
		replace(&j->event_code, jstr(ev, "messageCode"));
		replace(&j->event_details, jstr(ev, "messageDetails"));
		replace(&j->event_action, jstr(ev, "messageAction"));
		replace(&j->event_output, jstr(ev, "messageCommandOutput"));
	}
	return 0;
}

int dddp__job_parse(struct dddp_job *j, const json_t *job)
{
	return job_update(j, job, 0);
}

int dddp__cookie_parse(char *out, size_t outlen, const char *set_cookie)
{
	const char *p = set_cookie;

	while (*p == ' ' || *p == '\t')
		p++;
	/* The first pair of a Set-Cookie value is the cookie; the rest are attributes. */
	if (strncmp(p, "JSESSIONID=", 11) != 0)
		return DA_ENOTFOUND;
	p += 11;
	size_t n = strcspn(p, "; \t\r\n");
	if (n == 0 || n >= outlen)
		return DA_ENOTFOUND;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* ---- answers -------------------------------------------------------------- */

void dddp__answer_dispose(struct dddp__answer *a)
{
	if (!a)
		return;
	json_decref(a->root);
	dddp_error_dispose(&a->error);
	memset(a, 0, sizeof(*a));
}

/* Keep an APIError, and say it in the message. */
static void api_error_take(struct dddp__answer *a, const json_t *err, long status,
			   const char *what)
{
	const json_t *details = json_object_get(err, "details");
	struct buf m;
	char *d = NULL;

	a->error.http_status = status;
	a->error.id = dup_or_empty(jstr(err, "id"));
	if (json_is_string(details))
		d = dup_or_empty(json_string_value(details));
	else if (details && !json_is_null(details))
		d = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS); /* field -> APIError map */
	a->error.details = d ? d : xstrdup("");
	a->error.action = dup_or_empty(jstr(err, "action"));
	a->error.command_output = dup_or_empty(jstr(err, "commandOutput"));

	buf_init(&m, 64 * 1024);
	buf_printf(&m, "%s: HTTP %ld: engine error %s: ", what, status,
		   *a->error.id ? a->error.id : "(no id)");
	text_clip(&m, a->error.details, strlen(a->error.details), 1000);
	if (*a->error.action) {
		buf_puts(&m, " (");
		text_clip(&m, a->error.action, strlen(a->error.action), DDDP_TEXT_MAX);
		buf_puts(&m, ")");
	}
	if (*a->error.command_output) {
		buf_puts(&m, "; command output: ");
		text_clip(&m, a->error.command_output, strlen(a->error.command_output),
			  DDDP_OUTPUT_MAX);
	}
	error_set("%s", buf_cstr(&m));
	buf_dispose(&m);
}

int dddp__answer_parse(struct dddp__answer *a, long status, const char *content_type,
		       const char *body, size_t len, const char *what)
{
	json_error_t jerr;
	json_t *root = NULL;
	const char *type, *st;
	const char *p = body;
	struct buf m;
	int rc;

	memset(a, 0, sizeof(*a));
	while ((size_t)(p - body) < len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	/* JSON only when it looks like it: 403 and 502 answers are HTML pages (§1.3). */
	if ((size_t)(p - body) < len && *p == '{')
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!root) {
		buf_init(&m, 4096);
		if (status == 403) {
			a->session_gone = true;
			buf_printf(&m, "%s: HTTP 403: the engine asks to log in first (", what);
			html_gist(&m, body, len);
			buf_puts(&m, ")");
			rc = DA_EAUTH;
		} else if (status == 502 || status == 503 || strcasestr(body, "booting") ||
			   strstr(body, "STARTING UP")) {
			a->booting = true;
			buf_printf(&m, "%s: HTTP %ld: the engine is not ready (", what, status);
			html_gist(&m, body, len);
			buf_puts(&m, ")");
			rc = DA_ERETRY;
		} else {
			buf_printf(&m, "%s: HTTP %ld: not an answer of the engine's API (%s%s): ", what,
				   status, content_type ? content_type : "no Content-Type",
				   root == NULL && (size_t)(p - body) < len && *p == '{' ?
				   ", bad JSON" : "");
			html_gist(&m, body, len);
			rc = status == 401 ? DA_EAUTH : DA_ERROR;
		}
		error_set("%s", buf_cstr(&m));
		buf_dispose(&m);
		return rc;
	}

	type = jstr(root, "type");
	st = jstr(root, "status");
	if (strcmp(type, "ErrorResult") == 0 || strcmp(st, "ERROR") == 0) {
		api_error_take(a, json_object_get(root, "error"), status, what);
		json_decref(root);
		if (status == 401 || strcmp(a->error.id, "exception.webservices.login.failed") == 0)
			return DA_EAUTH;
		if (strcmp(a->error.id, "exception.executor.object.missing") == 0)
			return DA_ENOTFOUND;
		return DA_ERROR;
	}
	if (status < 200 || status > 299 || strcmp(st, "OK") != 0 ||
	    (strcmp(type, "OKResult") != 0 && strcmp(type, "ListResult") != 0 &&
	     strcmp(type, "DataResult") != 0)) {
		error_set("%s: HTTP %ld: unexpected answer (type '%.40s', status '%.20s')", what, status,
			  type, st);
		json_decref(root);
		return status == 401 ? DA_EAUTH : DA_ERROR;
	}
	a->root = root;
	return 0;
}

/* ---- transport ------------------------------------------------------------ */

struct transfer {
	struct dddp *d;
	struct buf body;
	char content_type[128];
	bool too_big;
	bool cancelled;
};

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nitems;
	char line[512];
	size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

	memcpy(line, data, n);
	line[n] = '\0';
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = '\0';
	if (strncasecmp(line, "HTTP/", 5) == 0) {
		t->content_type[0] = '\0'; /* an interim answer's headers do not count */
	} else if (strncasecmp(line, "set-cookie:", 11) == 0) {
		char v[sizeof(t->d->cookie)];

		/* Every answer may rotate the session cookie; the newest one wins (§1.4). */
		if (dddp__cookie_parse(v, sizeof(v), line + 11) == 0)
			snprintf(t->d->cookie, sizeof(t->d->cookie), "%s", v);
	} else if (strncasecmp(line, "content-type:", 13) == 0) {
		const char *v = line + 13;

		while (*v == ' ')
			v++;
		/* Truncation is fine: only the media type at its start is looked at. */
		snprintf(t->content_type, sizeof(t->content_type), "%.*s",
			 (int)sizeof(t->content_type) - 1, v);
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;

	if (buf_put(&t->body, data, size * nmemb) != 0) {
		t->too_big = true;
		return 0;
	}
	return size * nmemb;
}

static bool fd_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static int on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct transfer *t = userdata;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	if (t->d->watch_cancel && fd_readable(t->d->cancel_fd)) {
		t->cancelled = true;
		return 1;
	}
	return 0;
}

/*
 * One exchange. *status gets the HTTP status; t holds the body. DA_ERETRY
 * when no answer came (*sent tells whether the request may have reached
 * the engine), DA_ETIMEOUT, DA_ECANCELLED, DA_ETOOBIG, DA_ERROR.
 */
static int dddp_perform(struct dddp *d, struct transfer *t, long *status, bool *sent,
			const char *method, const char *url, const char *body, size_t body_len)
{
	CURL *h = d->curl;
	CURLcode cc = CURLE_OK;
	struct curl_slist *hdrs = NULL;
	char cookie[sizeof(d->cookie) + 32];
	int rc = 0;

	*status = 0;
	*sent = true;
	curl_easy_reset(h);
	d->errbuf[0] = '\0';
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (d->cookie[0]) {
		snprintf(cookie, sizeof(cookie), "Cookie: JSESSIONID=%s", d->cookie);
		hdrs = curl_slist_append(hdrs, cookie);
	}
#define SET(opt, val) do { if (cc == CURLE_OK) cc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_ERRORBUFFER, d->errbuf);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (d->ca_file)
		SET(CURLOPT_CAINFO, d->ca_file);
	SET(CURLOPT_USERAGENT, "dataops-agent/" DA_VERSION);
	SET(CURLOPT_CONNECTTIMEOUT_MS, d->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, d->timeout_ms);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, t);
	if (strcmp(method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE, (long)body_len);
		SET(CURLOPT_POSTFIELDS, body);
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
#undef SET
	if (cc == CURLE_OK)
		cc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (t->too_big) {
		error_set("%s %s: the answer is larger than %zu bytes", method, url, DDDP_MAX_ANSWER);
		rc = DA_ETOOBIG;
	} else if (t->cancelled) {
		error_set("%s %s: stopped on request", method, url);
		rc = DA_ECANCELLED;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		error_set("%s %s: no answer within %ld ms", method, url, d->timeout_ms);
		rc = DA_ETIMEOUT;
	} else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
		   cc == CURLE_COULDNT_RESOLVE_PROXY) {
		*sent = false; /* nothing reached the engine */
		error_set("%s %s: cannot connect: %s", method, url,
			  d->errbuf[0] ? d->errbuf : curl_easy_strerror(cc));
		rc = DA_ERETRY;
	} else if (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
		   cc == CURLE_PARTIAL_FILE || cc == CURLE_SSL_CONNECT_ERROR) {
		error_set("%s %s: connection lost: %s", method, url,
			  d->errbuf[0] ? d->errbuf : curl_easy_strerror(cc));
		rc = DA_ERETRY;
	} else if (cc != CURLE_OK) {
		error_set("%s %s: %s", method, url, d->errbuf[0] ? d->errbuf : curl_easy_strerror(cc));
		rc = DA_ERROR;
	}
	if (rc != 0)
		*status = 0;
	return rc;
}

/* Sleep ms, or less when cancel_fd turns readable (then DA_ECANCELLED). */
static int dddp_sleep(struct dddp *d, unsigned ms)
{
	struct pollfd p = { d->cancel_fd, POLLIN, 0 };
	uint64_t end = time_mono_ms() + ms;

	for (;;) {
		uint64_t now = time_mono_ms();
		int n;

		if (now >= end)
			return 0;
		n = poll(&p, d->cancel_fd >= 0 ? 1 : 0, (int)(end - now));
		if (n > 0) {
			error_set("stopped on request");
			return DA_ECANCELLED;
		}
		if (n < 0 && errno != EINTR)
			return 0;
	}
}

static void dddp_note(struct dddp *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dddp_note(struct dddp *d, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("dddp: %s", msg);
	if (d->note)
		d->note(msg, d->payload);
}

/* ---- the session ---------------------------------------------------------- */

int dddp_new(struct dddp **out, const struct dddp_opts *opts)
{
	struct dddp *d;
	const char *u = opts->url;
	size_t n;

	*out = NULL;
	if (u && strchr(u, '@')) {
		/* Not echoed: what comes before the '@' may be a password. */
		error_set("[dddp] url must not carry credentials (user:password@host): set [dddp] user "
			  "and password_file instead");
		return DA_EINVALID;
	}
	if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
	    strpbrk(u, " \t\r\n?#")) {
		error_set("[dddp] url '%s' is not an http:// or https:// URL without a query or "
			  "fragment", u ? u : "");
		return DA_EINVALID;
	}
	if (!opts->user || !*opts->user || !opts->password || !*opts->password) {
		error_set("the Delphix engine at %s needs [dddp] user and a password ([dddp] "
			  "password_file or DATAOPS_DDDP_PASSWORD)", u);
		return DA_EINVALID;
	}
	pthread_once(&dddp_once, dddp_global_init);
	if (dddp_global_rc != CURLE_OK) {
		error_set("libcurl initialisation failed: %s", curl_easy_strerror(dddp_global_rc));
		return DA_ERROR;
	}
	d = xcalloc(1, sizeof(*d));
	d->curl = curl_easy_init();
	if (!d->curl) {
		free(d);
		error_set("curl_easy_init failed");
		return DA_ERROR;
	}
	n = strlen(u);
	while (n && u[n - 1] == '/')
		n--;
	/* A URL that already ends in the API path is taken as it is. */
	if (n >= strlen(DDDP_API_PATH) - 1 &&
	    strncmp(u + n - (strlen(DDDP_API_PATH) - 1), DDDP_API_PATH, strlen(DDDP_API_PATH) - 1) == 0)
		d->base = xasprintf("%.*s/", (int)n, u);
	else
		d->base = xasprintf("%.*s%s", (int)n, u, DDDP_API_PATH);
	d->user = xstrdup(opts->user);
	d->password = xstrdup(opts->password);
	d->ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
	d->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms :
				DDDP_DEFAULT_CONNECT_MS;
	d->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DDDP_DEFAULT_TIMEOUT_MS;
	d->boot_wait_ms = opts->boot_wait_ms ? opts->boot_wait_ms : DDDP_DEFAULT_BOOT_WAIT_MS;
	d->busy_wait_ms = opts->busy_wait_ms ? opts->busy_wait_ms : DDDP_DEFAULT_BUSY_WAIT_MS;
	d->poll_max_ms = opts->poll_max_ms ? opts->poll_max_ms : DDDP_DEFAULT_POLL_MAX_MS;
	if (d->poll_max_ms < DDDP_POLL_MIN_MS)
		d->poll_max_ms = DDDP_POLL_MIN_MS;
	d->cancel_fd = opts->cancel_fd;
	d->progress = opts->progress;
	d->note = opts->note;
	d->payload = opts->payload;
	d->notifications = true;
	d->version[0] = DDDP_WANT_MAJOR;
	d->version[1] = DDDP_WANT_MINOR;
	d->version[2] = DDDP_WANT_MICRO;
	snprintf(d->channel, sizeof(d->channel), "dataops-%p", (void *)d);
	*out = d;
	return 0;
}

void dddp_free(struct dddp *d)
{
	if (!d)
		return;
	if (d->logged_in) {
		json_t *ans = NULL;

		/* Best effort, quickly: the engine forgets idle sessions anyway. */
		d->timeout_ms = d->timeout_ms < 5000 ? d->timeout_ms : 5000;
		d->boot_wait_ms = 1;
		d->in_login = true;
		if (dddp_call(d, &ans, "POST", "logout", NULL) < 0)
			error_clear();
		json_decref(ans);
	}
	curl_easy_cleanup(d->curl);
	free(d->base);
	free(d->user);
	if (d->password) {
		explicit_bzero(d->password, strlen(d->password));
		free(d->password);
	}
	free(d->ca_file);
	dddp_error_dispose(&d->last);
	free(d);
}

unsigned dddp_login_count(const struct dddp *d)
{
	return d->logins;
}

const char *dddp_api_version(const struct dddp *d)
{
	return d->version_str;
}

const char *dddp_namespace(const struct dddp *d)
{
	bool ss = d->version[0] > 1 || (d->version[0] == 1 && d->version[1] >= 9);

	return ss ? "selfservice" : "jetstream";
}

const struct dddp_error *dddp_last_error(const struct dddp *d)
{
	return d->last.id ? &d->last : NULL;
}

static bool version_at_least(const struct dddp *d, unsigned major, unsigned minor, unsigned micro)
{
	if (d->version[0] != major)
		return d->version[0] > major;
	if (d->version[1] != minor)
		return d->version[1] > minor;
	return d->version[2] >= micro;
}

/* What one exchange was, beyond its code. */
struct exchange {
	bool session_gone;      /* the 403 "log in first" page */
	bool repeatable;        /* DA_ERETRY, and sending it again cannot do anything twice */
};

/*
 * One request and its answer: *out gets an OKResult or ListResult (new
 * reference), d->last the APIError of an ErrorResult. Codes as
 * dddp__answer_parse, or dddp_perform when no answer came.
 */
static int exchange(struct dddp *d, json_t **out, struct exchange *ex, const char *method,
		    const char *url, const char *what, const char *body)
{
	struct transfer t = { d, BUF_INIT_MAX(DDDP_MAX_ANSWER), "", false, false };
	struct dddp__answer a;
	long status;
	bool sent;
	int rc;

	*out = NULL;
	ex->session_gone = false;
	rc = dddp_perform(d, &t, &status, &sent, method, url, body ? body : "{}",
			  body ? strlen(body) : 2);
	if (rc == 0) {
		rc = dddp__answer_parse(&a, status, t.content_type, buf_cstr(&t.body), t.body.len,
					what);
		if (a.error.id) {
			dddp_error_dispose(&d->last);
			d->last = a.error;
			memset(&a.error, 0, sizeof(a.error));
		}
		*out = a.root;
		a.root = NULL;
		ex->session_gone = a.session_gone;
		sent = !a.booting; /* a 502 "booting" page: the engine did nothing */
		dddp__answer_dispose(&a);
	}
	buf_dispose(&t.body);
	/* Unreachable or booting: again, unless a POST may have reached the engine. */
	ex->repeatable = rc == DA_ERETRY && (!sent || strcmp(method, "GET") == 0);
	return rc;
}

/*
 * One call with the raw body string (the LoginRequest must not pass
 * through jansson, which would keep copies of the password): log in
 * first when needed, once more when the session is gone, and repeat
 * while the engine boots or cannot be reached, up to boot_wait_ms.
 */
static int dddp_call_raw(struct dddp *d, json_t **out, const char *method, const char *path,
			 const char *body)
{
	char *url = xasprintf("%s%s", d->base, path);
	char *what = xasprintf("%s %s", method, url);
	uint64_t boot_deadline = time_mono_ms() + d->boot_wait_ms;
	bool relogged = false;
	unsigned attempt = 0;
	struct exchange ex;
	int rc;

	*out = NULL;
	if (!d->logged_in && !d->in_login && (rc = dddp_login(d)) < 0)
		goto out;
	dddp_error_dispose(&d->last);
	for (;;) {
		unsigned delay;

		rc = exchange(d, out, &ex, method, url, what, body);
		if (ex.session_gone && !d->in_login && !relogged) {
			/* §4: the session expired; one new session and login, then the call again. */
			dddp_note(d, "the engine's session expired (%s %s): logging in again", method,
				  path);
			d->logged_in = false;
			relogged = true;
			if ((rc = dddp_login(d)) < 0)
				break;
			continue;
		}
		if (ex.session_gone && relogged)
			error_prefix("after a new login: ");
		if (!ex.repeatable)
			break;
		delay = 250 + http_backoff_ms(attempt++, 500, 8000);
		if (time_mono_ms() + delay > boot_deadline) {
			error_prefix("the engine stayed unreachable or booting for %u s: ",
				     d->boot_wait_ms / 1000);
			break;
		}
		if (attempt == 1)
			dddp_note(d, "engine not ready (%s); waiting up to %u s", error_last(),
				  d->boot_wait_ms / 1000);
		error_clear();
		if ((rc = dddp_sleep(d, delay)) < 0)
			break;
	}
out:
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
	}
	free(url);
	free(what);
	return rc;
}

int dddp_call(struct dddp *d, json_t **out, const char *method, const char *path, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	if (body && !text) {
		*out = NULL;
		error_set("%s %s: the request body cannot be written as JSON", method, path);
		return DA_ERROR;
	}
	rc = dddp_call_raw(d, out, method, path, text);
	free(text);
	return rc;
}

/* POST session with the version in d->version; DA_EINVALID when the engine refuses it. */
static int open_session(struct dddp *d)
{
	json_t *ans = NULL;
	json_t *body = json_pack("{s:s, s:{s:s, s:i, s:i, s:i}, s:s, s:s}", "type", "APISession",
				 "version", "type", "APIVersion", "major", (int)d->version[0],
				 "minor", (int)d->version[1], "micro", (int)d->version[2],
				 "locale", "en-US", "client", "dataops-agent");
	int rc;

	d->cookie[0] = '\0';
	rc = dddp_call(d, &ans, "POST", "session", body);
	json_decref(body);
	json_decref(ans);
	if (rc == DA_ERROR && d->last.id &&
	    strcmp(d->last.id, "exception.webservices.session.invalid.version") == 0)
		return DA_EINVALID;
	return rc;
}

/* The engine refused our version: take its own maximum from GET about (§1.5). */
static int negotiate_down(struct dddp *d)
{
	json_t *ans = NULL, *v;
	unsigned want[3] = { d->version[0], d->version[1], d->version[2] };
	int rc;

	error_clear();
	d->version[0] = 1;
	d->version[1] = 3;
	d->version[2] = 0;
	if ((rc = open_session(d)) < 0)
		goto fail;
	if ((rc = dddp_call(d, &ans, "GET", "about", NULL)) < 0)
		goto fail;
	v = json_object_get(json_object_get(ans, "result"), "apiVersion");
	if (!json_is_integer(json_object_get(v, "major")) || !json_is_integer(json_object_get(v, "minor"))) {
		error_set("GET %sabout: no apiVersion in the answer", d->base);
		rc = DA_ERROR;
		goto fail;
	}
	d->version[0] = (unsigned)json_integer_value(json_object_get(v, "major"));
	d->version[1] = (unsigned)json_integer_value(json_object_get(v, "minor"));
	d->version[2] = (unsigned)json_integer_value(json_object_get(v, "micro"));
	json_decref(ans);
	dddp_note(d, "the engine does not speak API %u.%u.%u; using its own %u.%u.%u", want[0],
		  want[1], want[2], d->version[0], d->version[1], d->version[2]);
	return open_session(d);
fail:
	json_decref(ans);
	error_prefix("API version %u.%u.%u refused, and finding the engine's own failed: ",
		     want[0], want[1], want[2]);
	return rc;
}

int dddp_login(struct dddp *d)
{
	json_t *ans = NULL;
	struct buf body;
	int rc;

	d->in_login = true;
	d->logged_in = false;
	rc = open_session(d);
	if (rc == DA_EINVALID)
		rc = negotiate_down(d);
	if (rc < 0)
		goto out;
	snprintf(d->version_str, sizeof(d->version_str), "%u.%u.%u", d->version[0], d->version[1],
		 d->version[2]);

	buf_init(&body, 64 * 1024);
	buf_puts(&body, "{\"type\":\"LoginRequest\",\"username\":");
	dddp__json_quote(&body, d->user);
	buf_puts(&body, ",\"password\":");
	dddp__json_quote(&body, d->password);
	buf_puts(&body, ",\"target\":\"DOMAIN\"}");
	d->logins++;
	rc = dddp_call_raw(d, &ans, "POST", "login", buf_cstr(&body));
	explicit_bzero(body.ptr, body.cap);
	buf_dispose(&body);
	if (rc == DA_EAUTH) {
		error_prefix("login as '%s' refused; not retried, since the engine locks a user out "
			     "after 3 failed logins: ", d->user);
		goto out;
	}
	if (rc < 0)
		goto out;
	copy_field(d->user_ref, sizeof(d->user_ref), jstr(ans, "result"));
	d->logged_in = true;
	log_debug("dddp: logged in to %s as %s (API %s)", d->base, d->user, d->version_str);
out:
	json_decref(ans);
	d->in_login = false;
	return rc;
}

/* ---- lookups -------------------------------------------------------------- */

int dddp_find(struct dddp *d, json_t **out, const char *collection, const char *what,
	      const char *name)
{
	json_t *ans = NULL, *item;
	struct buf names;
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if ((rc = dddp_call(d, &ans, "GET", collection, NULL)) < 0)
		return rc;
	json_array_foreach(json_object_get(ans, "result"), i, item) {
		if (strcmp(jstr(item, "name"), name) == 0) {
			*out = json_incref(item);
			json_decref(ans);
			return 0;
		}
	}
	buf_init(&names, 4096);
	json_array_foreach(json_object_get(ans, "result"), i, item) {
		if (n++ < 20)
			buf_printf(&names, "%s'%s'", n > 1 ? ", " : "", jstr(item, "name"));
	}
	error_set("no %s named '%s' on the engine %s (there %s: %s)", what, name, d->base,
		  n == 1 ? "is" : "are", n ? buf_cstr(&names) : "none");
	buf_dispose(&names);
	json_decref(ans);
	return DA_ENOTFOUND;
}

/* ---- jobs ----------------------------------------------------------------- */

/* Ask the engine to cancel a job; what went wrong before stays the message. */
static void cancel_job(struct dddp *d, const char *job)
{
	char *path = xasprintf("job/%s/cancel", job);
	char *keep = xstrdup(error_last());
	json_t *ans = NULL, *body = json_object();

	if (dddp_call(d, &ans, "POST", path, body) == 0)
		dddp_note(d, "cancelled %s on the engine", job);
	else /* say so: the job may still be running there */
		dddp_note(d, "could not cancel %s on the engine %s: %s", job, d->base, error_last());
	json_decref(ans);
	json_decref(body);
	error_set("%s", keep);
	free(keep);
	free(path);
}

/* The message of a job that ended badly, with its last error event. */
static void job_failed_message(const struct dddp_job *j)
{
	struct buf m;

	buf_init(&m, 64 * 1024);
	buf_printf(&m, "%s %s (%s) %s at %.0f%%", j->ref, j->action_type, j->target_name,
		   j->state, j->percent);
	if (*j->event_details || *j->event_code) {
		buf_printf(&m, ": %s%s", j->event_code, *j->event_code ? ": " : "");
		text_clip(&m, j->event_details, strlen(j->event_details), 1000);
	} else if (*j->last_message) {
		buf_puts(&m, ": ");
		text_clip(&m, j->last_message, strlen(j->last_message), 1000);
	}
	if (*j->event_action) {
		buf_puts(&m, " (");
		text_clip(&m, j->event_action, strlen(j->event_action), DDDP_TEXT_MAX);
		buf_puts(&m, ")");
	}
	if (*j->event_output) {
		buf_puts(&m, "; command output: ");
		text_clip(&m, j->event_output, strlen(j->event_output), DDDP_OUTPUT_MAX);
	}
	error_set("%s", buf_cstr(&m));
	buf_dispose(&m);
}

/* Block until something changes on the engine, or ms pass. */
static int wait_for_change(struct dddp *d, unsigned ms)
{
	json_t *ans = NULL;
	char path[128];
	long keep = d->timeout_ms;
	int rc;

	if (!d->notifications)
		return dddp_sleep(d, ms);
	snprintf(path, sizeof(path), "notification?channel=%s&timeout=%u&max=100", d->channel, ms);
	d->watch_cancel = true;
	d->timeout_ms = (long)ms + 15000; /* the engine holds the answer up to ms */
	rc = dddp_call(d, &ans, "GET", path, NULL);
	d->timeout_ms = keep;
	d->watch_cancel = false;
	json_decref(ans);
	if (rc == DA_ECANCELLED)
		return rc;
	if (rc < 0) {
		/* No long poll here: plain polling it is. */
		log_debug("dddp: notifications unavailable (%s); polling", error_last());
		error_clear();
		d->notifications = false;
		return dddp_sleep(d, ms);
	}
	return 0;
}

int dddp_job_wait(struct dddp *d, struct dddp_job *out, const char *job, uint64_t deadline_ms)
{
	char *path = xasprintf("job/%s", job);
	unsigned pause = 250;
	char last_state[16] = "";
	double last_pct = -1;
	size_t seen = 0; /* events already parsed and reported */
	int rc;

	job_init(out);
	copy_field(out->ref, sizeof(out->ref), job);
	for (;;) {
		json_t *ans = NULL;
		const json_t *result, *events;
		size_t n;
		uint64_t now, t0 = time_mono_ms();

		if ((rc = dddp_call(d, &ans, "GET", path, NULL)) < 0)
			break;
		result = json_object_get(ans, "result");
		rc = job_update(out, result, seen);
		if (rc < 0) {
			json_decref(ans);
			error_prefix("GET %s%s: ", d->base, path);
			break;
		}
		events = json_object_get(result, "events");
		n = json_array_size(events);
		if (d->progress) {
			for (size_t i = seen; i < n; i++) {
				const json_t *ev = json_array_get(events, i);
				const json_t *pct = json_object_get(ev, "percentComplete");

				d->progress(out, json_is_number(pct) ? json_number_value(pct) : out->percent,
					    jstr(ev, "messageDetails"), d->payload);
			}
			if (n <= seen && (strcmp(out->state, last_state) != 0 || out->percent != last_pct))
				d->progress(out, out->percent, "", d->payload);
		}
		if (n > seen)
			seen = n;
		json_decref(ans);
		copy_field(last_state, sizeof(last_state), out->state);
		last_pct = out->percent;
		if (strcmp(out->state, "COMPLETED") == 0) {
			rc = 0;
			break;
		}
		if (strcmp(out->state, "FAILED") == 0 || strcmp(out->state, "CANCELED") == 0) {
			job_failed_message(out);
			rc = DA_ERROR;
			break;
		}
		/* RUNNING or SUSPENDED: keep waiting, within the deadline. */
		now = time_mono_ms();
		if (deadline_ms && now >= deadline_ms) {
			rc = DA_ETIMEOUT;
		} else if (fd_readable(d->cancel_fd)) {
			rc = DA_ECANCELLED;
		} else {
			unsigned ms = deadline_ms && now + pause > deadline_ms ?
				      (unsigned)(deadline_ms - now) : pause;

			rc = wait_for_change(d, ms);
			/* Never a tight loop, even when the engine has news at every look. */
			if (rc == 0 && time_mono_ms() - t0 < DDDP_POLL_MIN_MS)
				rc = dddp_sleep(d, DDDP_POLL_MIN_MS);
			pause = pause * 2 > d->poll_max_ms ? d->poll_max_ms : pause * 2;
		}
		if (rc < 0) {
			/* Out of time or told to stop: the job must not run on without us. */
			if (rc == DA_ETIMEOUT)
				error_set("%s %s (%s) still %s at %.0f%% when the step's time ran out",
					  out->ref, out->action_type, out->target_name, out->state,
					  out->percent);
			else
				error_set("%s %s (%s): stopped on request at %.0f%%", out->ref,
					  out->action_type, out->target_name, out->percent);
			cancel_job(d, job);
			break;
		}
	}
	free(path);
	return rc;
}

/* ---- the pipeline's actions ----------------------------------------------- */

/* The first job RUNNING on target (new reference); *out NULL when none runs. */
static int running_job(struct dddp *d, json_t **out, const char *target)
{
	char *path = xasprintf("job?jobState=RUNNING&target=%s&pageSize=1", target);
	json_t *ans = NULL;
	int rc = dddp_call(d, &ans, "GET", path, NULL);

	*out = rc == 0 ? json_incref(json_array_get(json_object_get(ans, "result"), 0)) : NULL;
	json_decref(ans);
	free(path);
	return rc;
}

/* Is a job of someone else running on target? Wait for it, within busy_wait_ms. */
static int wait_not_busy(struct dddp *d, const char *target, const char *name)
{
	uint64_t deadline = time_mono_ms() + d->busy_wait_ms;
	unsigned attempt = 0;
	json_t *other = NULL;
	int rc;

	while ((rc = running_job(d, &other, target)) == 0 && other) {
		uint64_t now = time_mono_ms();
		unsigned ms = 500 + http_backoff_ms(attempt, 1000, 5000);

		if (now >= deadline) {
			error_set("'%s' (%s) is busy: %s (%s) is still running on it after %u s", name,
				  target, jstr(other, "reference"), jstr(other, "title"),
				  d->busy_wait_ms / 1000);
			rc = DA_ECONFLICT;
			break;
		}
		if (attempt++ == 0)
			dddp_note(d, "'%s' is busy with %s (%s); waiting up to %u s", name,
				  jstr(other, "reference"), jstr(other, "title"), d->busy_wait_ms / 1000);
		json_decref(other);
		other = NULL;
		if (now + ms > deadline)
			ms = (unsigned)(deadline - now);
		if ((rc = dddp_sleep(d, ms)) < 0)
			break;
	}
	json_decref(other);
	return rc;
}

/*
 * POST an operation on target, waiting first while the target is busy,
 * and again when the engine refuses because a job started meanwhile.
 * *ans: the OKResult (new reference).
 */
static int start_operation(struct dddp *d, json_t **ans, const char *path, json_t *body,
			   const char *target, const char *name)
{
	uint64_t deadline = time_mono_ms() + d->busy_wait_ms;
	int rc;

	for (;;) {
		char *keep;
		json_t *other = NULL;
		bool busy;

		if ((rc = wait_not_busy(d, target, name)) < 0)
			return rc;
		rc = dddp_call(d, ans, "POST", path, body);
		if (rc != DA_ERROR || time_mono_ms() >= deadline)
			return rc;
		/* An ErrorResult: retry only when a job now runs on the target (§4, engine busy). */
		keep = xstrdup(error_last());
		busy = running_job(d, &other, target) == 0 && other;
		json_decref(other);
		error_set("%s", keep);
		free(keep);
		if (!busy)
			return DA_ERROR;
	}
}

/* Start an operation and wait for its job. */
static int run_operation(struct dddp *d, struct dddp_job *job, json_t **ans, const char *path,
			 json_t *body, const char *target, const char *name, uint64_t deadline_ms)
{
	const char *job_ref;
	int rc;

	*ans = NULL;
	if ((rc = start_operation(d, ans, path, body, target, name)) < 0) {
		job_init(job);
		return rc;
	}
	job_ref = jstr(*ans, "job");
	if (!*job_ref) {
		job_init(job);
		copy_field(job->state, sizeof(job->state), "COMPLETED");
		job->percent = 100;
		return 0; /* done at once, no job (§1.2: job null) */
	}
	return dddp_job_wait(d, job, job_ref, deadline_ms);
}

/* §2.5: the sync parameters' shape moved between versions. */
static json_t *sync_body(struct dddp *d, const json_t *db, const char *name)
{
	(void)name;
	if (strcmp(jstr(db, "type"), "OracleDatabaseContainer") == 0)
		return json_pack("{s:s}", "type", version_at_least(d, 1, 11, 0) ?
				 "OracleSyncFromExternalParameters" : "OracleSyncParameters");
	if (version_at_least(d, 1, 11, 6))
		return json_pack("{s:s, s:{s:b}}", "type", "AppDataSyncParameters", "parameters",
				 "resync", 0);
	return json_pack("{s:s, s:b}", "type", "AppDataSyncParameters", "resync", 0);
}

/* §2.6: from the parent's latest snapshot; NULL (message set) for a dSource. */
static json_t *refresh_body(struct dddp *d, const json_t *db, const char *name)
{
	const char *parent = jstr(db, "provisionContainer");

	(void)d;
	if (!*parent) {
		error_set("'%s' (%s) is a dSource, not a VDB: it has no parent to refresh from", name,
			  jstr(db, "reference"));
		return NULL;
	}
	return json_pack("{s:s, s:{s:s, s:s, s:s}}", "type",
			 strcmp(jstr(db, "type"), "OracleDatabaseContainer") == 0 ?
			 "OracleRefreshParameters" : "RefreshParameters",
			 "timeflowPointParameters", "type", "TimeflowPointSemantic",
			 "container", parent, "location", "LATEST_SNAPSHOT");
}

/*
 * POST database/{ref}/op on the database called name, with the body
 * make_body builds from it (NULL: DA_EINVALID, message set), and wait
 * for the job. Every error is prefixed "op of 'name': ".
 */
static int database_operation(struct dddp *d, struct dddp_job *job, const char *op,
			      json_t *(*make_body)(struct dddp *, const json_t *, const char *),
			      const char *name, uint64_t deadline_ms)
{
	json_t *db = NULL, *ans = NULL, *body = NULL;
	char *path = NULL;
	int rc;

	job_init(job);
	if ((rc = dddp_find(d, &db, "database", "database", name)) < 0)
		goto out;
	if (!(body = make_body(d, db, name))) {
		rc = DA_EINVALID;
		goto out;
	}
	path = xasprintf("database/%s/%s", jstr(db, "reference"), op);
	dddp_job_dispose(job);
	rc = run_operation(d, job, &ans, path, body, jstr(db, "reference"), name, deadline_ms);
out:
	if (rc < 0)
		error_prefix("%s of '%s': ", op, name);
	json_decref(db);
	json_decref(ans);
	json_decref(body);
	free(path);
	return rc;
}

int dddp_sync(struct dddp *d, struct dddp_job *job, const char *database, uint64_t deadline_ms)
{
	return database_operation(d, job, "sync", sync_body, database, deadline_ms);
}

int dddp_refresh(struct dddp *d, struct dddp_job *job, const char *vdb, uint64_t deadline_ms)
{
	return database_operation(d, job, "refresh", refresh_body, vdb, deadline_ms);
}

/* The template and, when container is set, its container (new references). */
static int find_layouts(struct dddp *d, json_t **tmpl, json_t **cont, const char *template_name,
			const char *container)
{
	char *coll = NULL;
	int rc;

	*tmpl = NULL;
	*cont = NULL;
	/* The namespace is known only once the session is open. */
	if (!d->logged_in && (rc = dddp_login(d)) < 0)
		goto out;
	coll = xasprintf("%s/template", dddp_namespace(d));
	if ((rc = dddp_find(d, tmpl, coll, "self-service template", template_name)) < 0)
		goto out;
	if (container && *container) {
		free(coll);
		coll = xasprintf("%s/container?template=%s", dddp_namespace(d), jstr(*tmpl, "reference"));
		rc = dddp_find(d, cont, coll, "data container of template", container);
		if (rc == DA_ENOTFOUND)
			error_prefix("template '%s': ", template_name);
	}
out:
	free(coll);
	return rc;
}

/* A container that is INCONSISTENT or OFFLINE is brought ONLINE first (§3.3). */
static int make_online(struct dddp *d, json_t **cont, const char *name, uint64_t deadline_ms)
{
	const char *state = jstr(*cont, "state");
	const char *op = strcmp(state, "INCONSISTENT") == 0 ? "recover" :
			 strcmp(state, "OFFLINE") == 0 ? "enable" : NULL;
	char *path, *ref;
	json_t *ans = NULL;
	struct dddp_job job;
	int rc;

	if (!op)
		return 0;
	dddp_note(d, "data container '%s' is %s: %s it first", name, state, op);
	ref = xstrdup(jstr(*cont, "reference"));
	path = xasprintf("%s/container/%s/%s", dddp_namespace(d), ref, op);
	rc = run_operation(d, &job, &ans, path, NULL, ref, name, deadline_ms);
	dddp_job_dispose(&job);
	json_decref(ans);
	free(path);
	if (rc == 0) {
		/* Read it again: its state and branch may have changed. */
		path = xasprintf("%s/container/%s", dddp_namespace(d), ref);
		rc = dddp_call(d, &ans, "GET", path, NULL);
		if (rc == 0) {
			json_decref(*cont);
			*cont = json_incref(json_object_get(ans, "result"));
		}
		json_decref(ans);
		free(path);
	}
	free(ref);
	return rc;
}

/* Create container on the template, on the VDB of the same name (§2.16). */
static int create_container(struct dddp *d, struct dddp_job *job, const json_t *tmpl,
			    const char *name, uint64_t deadline_ms)
{
	json_t *vdb = NULL, *ans = NULL, *body = NULL, *ds;
	char *path = xasprintf("%s/container", dddp_namespace(d));
	int rc;

	if ((rc = dddp_find(d, &vdb, "database", "database for the new data container", name)) < 0) {
		job_init(job);
		goto out;
	}
	ds = json_pack("[{s:s, s:s, s:{s:s, s:s, s:i}}]", "type", "JSDataSourceCreateParameters",
		       "container", jstr(vdb, "reference"), "source", "type", "JSDataSource",
		       "name", name, "priority", 1);
	if (version_at_least(d, 1, 8, 2))
		body = json_pack("{s:s, s:s, s:s, s:o, s:[s], s:{s:s, s:s}}", "type",
				 "JSDataContainerCreateWithRefreshParameters", "name", name,
				 "template", jstr(tmpl, "reference"), "dataSources", ds, "owners",
				 d->user_ref, "timelinePointParameters", "type",
				 "JSTimelinePointLatestTimeInput", "sourceDataLayout",
				 jstr(tmpl, "reference"));
	else
		body = json_pack("{s:s, s:s, s:s, s:o, s:[s]}", "type", "JSDataContainerCreateParameters",
				 "name", name, "template", jstr(tmpl, "reference"), "dataSources", ds,
				 "owners", d->user_ref);
	dddp_note(d, "data container '%s' does not exist: creating it from template '%s'", name,
		  jstr(tmpl, "name"));
	rc = run_operation(d, job, &ans, path, body, jstr(vdb, "reference"), name, deadline_ms);
out:
	json_decref(vdb);
	json_decref(ans);
	json_decref(body);
	free(path);
	return rc;
}

int dddp_container_refresh(struct dddp *d, struct dddp_job *job, bool *created,
			   const char *template_name, const char *container, bool create,
			   uint64_t deadline_ms)
{
	json_t *tmpl = NULL, *cont = NULL, *ans = NULL, *body = NULL;
	char *path = NULL;
	int rc;

	job_init(job);
	if (created)
		*created = false;
	rc = find_layouts(d, &tmpl, &cont, template_name, container);
	if (rc == DA_ENOTFOUND && tmpl && create) {
		error_clear();
		dddp_job_dispose(job);
		rc = create_container(d, job, tmpl, container, deadline_ms);
		if (rc == 0 && created)
			*created = true;
		goto out;
	}
	if (rc < 0)
		goto out;
	if ((rc = make_online(d, &cont, container, deadline_ms)) < 0)
		goto out;
	/* §1.5: a typed body from 1.9.0, {} before. */
	body = version_at_least(d, 1, 9, 0) ?
	       json_pack("{s:s, s:b}", "type", "JSDataContainerRefreshParameters", "forceOption", 0) :
	       json_object();
	path = xasprintf("%s/container/%s/refresh", dddp_namespace(d), jstr(cont, "reference"));
	dddp_job_dispose(job);
	rc = run_operation(d, job, &ans, path, body, jstr(cont, "reference"), container, deadline_ms);
out:
	if (rc < 0)
		error_prefix("spin-up of data container '%s': ", container);
	json_decref(tmpl);
	json_decref(cont);
	json_decref(ans);
	json_decref(body);
	free(path);
	return rc;
}

int dddp_bookmark(struct dddp *d, struct dddp_job *job, char **ref_out,
		  const struct dddp_bookmark_opts *o, uint64_t deadline_ms)
{
	json_t *tmpl = NULL, *cont = NULL, *ans = NULL, *body = NULL, *tags = json_array();
	const json_t *layout;
	char *path = NULL;
	bool of_container = o->container && *o->container;
	int rc;

	*ref_out = NULL;
	job_init(job);
	if ((rc = find_layouts(d, &tmpl, &cont, o->template_name, o->container)) < 0)
		goto out;
	if (of_container && (rc = make_online(d, &cont, o->container, deadline_ms)) < 0)
		goto out;
	layout = of_container ? cont : tmpl;
	for (const char *const *t = o->tags; t && *t; t++)
		json_array_append_new(tags, json_string(*t));
	body = json_pack("{s:s, s:{s:s, s:s, s:s, s:b, s:O}, s:{s:s, s:s}}",
			 "type", "JSBookmarkCreateParameters",
			 "bookmark", "type", "JSBookmark", "name", o->name,
			 "branch", jstr(layout, "activeBranch"), "shared", o->shared, "tags", tags,
			 "timelinePointParameters", "type", "JSTimelinePointLatestTimeInput",
			 "sourceDataLayout", jstr(layout, "reference"));
	if (!body) {
		error_set("bookmark '%s': the name or a tag is not valid UTF-8", o->name);
		rc = DA_EINVALID;
		goto out;
	}
	path = xasprintf("%s/bookmark", dddp_namespace(d));
	dddp_job_dispose(job);
	rc = run_operation(d, job, &ans, path, body, jstr(layout, "reference"),
			   of_container ? o->container : o->template_name, deadline_ms);
	if (ans && *jstr(ans, "result"))
		*ref_out = xstrdup(jstr(ans, "result"));
out:
	if (rc < 0)
		error_prefix("bookmark '%s' of %s '%s': ", o->name,
			     of_container ? "data container" : "template",
			     of_container ? o->container : o->template_name);
	json_decref(tmpl);
	json_decref(cont);
	json_decref(ans);
	json_decref(body);
	json_decref(tags);
	free(path);
	return rc;
}
