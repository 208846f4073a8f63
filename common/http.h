/*
 * http.h - HTTP to Jenkins on libcurl: one reused connection, API-token
 * auth, capped answers, errors that name the request.
 *
 * A struct http_client owns one curl easy handle, so consecutive requests
 * reuse one keep-alive connection. A client is used by ONE thread at a
 * time (curl easy handles are not shareable); give each thread, or each
 * streamed run record, its own client.
 *
 * The token is a secret: it is handed to curl as the Basic password and
 * never appears in a URL, a log line or an error message. TLS peers are
 * always verified. Redirects are never followed, because Jenkins answers
 * 302/303 that callers must see (cancelItem before 2.211, a folded
 * buildWithParameters). No cookies: API-token requests need no session or
 * crumb (jenkins-api.md §1.4).
 *
 * http_request returns 0 whenever an HTTP answer arrived, whatever its
 * status; http_check_status turns a status into our codes and a message
 * with Jenkins' own words (X-Error, X-Required-Permission, an HTML title)
 * but never a whole HTML page.
 */
#ifndef DA_HTTP_H
#define DA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct http_client;

struct http_client_opts {
	const char *base_url;      /* http:// or https://, no credentials; a trailing '/' is dropped */
	const char *user;          /* Jenkins user of the API token */
	const char *token;         /* API token (secret); copied */
	const char *ca_file;       /* CA bundle; NULL for the system store */
	long connect_timeout_ms;   /* 0: 10 s */
	long timeout_ms;           /* whole request, not streams; 0: 60 s */
	size_t max_response;       /* cap on an answer's body; 0: 8 MiB */
	long stream_stall_s;       /* a stream that moves no byte for this long is dead; 0: 60 s */
};

#define HTTP_CLIENT_OPTS_INIT { NULL, NULL, NULL, NULL, 0, 0, 0, 0 }

/* One answer. Caller-owned storage, filled by http_request / http_stream_post. */
struct http_response {
	long status;                 /* HTTP status, 0 when no answer arrived */
	struct buf body;             /* capped at the client's max_response */
	char *url;                   /* the request URL (no credentials), for messages */
	char *method;
	char *location;              /* header values, NULL when absent */
	char *x_jenkins;
	char *x_error;
	char *x_required_permission;
	char *content_type;
	/*
	 * The answer came on a new connection although the client had one:
	 * libcurl resends a request whose kept-alive connection turned out
	 * dead, so the server may have received it twice. For a request that
	 * must not count twice (a claim) the answer is then ambiguous.
	 */
	bool reconnected;
	/* http_get_head: the body went on past what was kept. */
	bool truncated;
};

/* Create a client; copies every string of opts. DA_EINVALID on a bad URL. */
int http_client_new(struct http_client **out, const struct http_client_opts *opts);
void http_client_free(struct http_client *c);
/* The base URL without trailing '/'. Borrowed. */
const char *http_client_base_url(const struct http_client *c);

/*
 * One request to base URL + path_and_query (which starts with '/'). body
 * may be NULL for an empty body; content_type NULL sends none. *out is
 * initialized on every return and must be disposed by the caller.
 * 0 when an HTTP answer arrived (any status); DA_ETOOBIG past the size
 * cap; DA_ETIMEOUT; DA_ERETRY when the connection failed (refused, reset,
 * DNS); DA_ERROR for the rest (TLS verification, bad URL).
 */
int http_request(struct http_response *out, struct http_client *c, const char *method,
		 const char *path_and_query, const char *content_type, const void *body,
		 size_t body_len);

/*
 * A GET that keeps the first head_max bytes of the body and then ends the
 * transfer (the connection is closed, not drained): for a log whose start
 * is all that is wanted, however large it has grown. out->truncated tells
 * whether there was more. Returns as http_request, never DA_ETOOBIG.
 */
int http_get_head(struct http_response *out, struct http_client *c, const char *path_and_query,
		  size_t head_max);

/*
 * Fills buf with up to len bytes and returns how many (> 0), 0 at the end
 * of the body, or -1 to abort the request. It may block: each call that
 * returns bytes becomes one HTTP chunk on the wire at once.
 */
typedef ssize_t http_stream_read_cb(char *buf, size_t len, void *payload);

/*
 * POST a body of unknown length with Transfer-Encoding: chunked, reading
 * it from read(). There is no overall time limit, only the stall limit
 * (stream_stall_s): the caller keeps an idle stream alive by sending
 * something (an XML comment) more often than that. Returns as
 * http_request, plus DA_ECANCELLED when read() returned -1.
 */
int http_stream_post(struct http_response *out, struct http_client *c, const char *path,
		     const char *content_type, http_stream_read_cb *read, void *payload);

void http_response_dispose(struct http_response *r);

/*
 * Map an answer to our codes, with a message naming method, URL and
 * Jenkins' own words: 2xx/3xx 0; 401 DA_EAUTH (names user and URL);
 * 403 DA_EAUTH (names the missing permission); 404 DA_ENOTFOUND;
 * 409 DA_ECONFLICT; 400 DA_EINVALID (with X-Error); 5xx DA_ERETRY;
 * any other status DA_ERROR.
 */
int http_check_status(const struct http_response *r, const char *user);

/* Parse an X-Jenkins value ("2.426.3", "2.211"; patch 0 when absent). DA_EINVALID otherwise. */
int http_jenkins_version(int *major, int *minor, int *patch, const char *x_jenkins);
/* Is x_jenkins major.minor or later? false when NULL or unparsable. */
bool http_jenkins_at_least(const char *x_jenkins, int major, int minor);

/*
 * Exponential backoff with full jitter: a random delay in
 * [0, min(max_ms, base_ms * 2^attempt)]. Thread-safe (per-thread state).
 */
unsigned http_backoff_ms(unsigned attempt, unsigned base_ms, unsigned max_ms);

#endif
