/*
 * http.c - HTTP to Jenkins on one reused libcurl easy handle.
 *
 * Every request starts from curl_easy_reset() and re-applies the client's
 * fixed options, so no option of one request (a read callback, a custom
 * method) can leak into the next; the reset keeps the connection cache,
 * so keep-alive still works.
 */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define HTTP_DEFAULT_MAX_RESPONSE ((size_t)8 << 20)
#define HTTP_DEFAULT_CONNECT_MS 10000L
#define HTTP_DEFAULT_TIMEOUT_MS 60000L
#define HTTP_DEFAULT_STALL_S 60L
/* Header values we keep are short; a longer one is cut, never grown without bound. */
#define HTTP_HEADER_MAX 2048
/* How much of Jenkins' own text (an HTML title, X-Error) goes into a message. */
#define HTTP_TEXT_MAX 200

struct http_client {
	CURL *curl;
	char *base_url;
	char *user;
	char *token;
	char *ca_file;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_response;
	long stream_stall_s;
	bool had_connection;   /* an earlier request of this client got an answer */
	char errbuf[CURL_ERROR_SIZE];
};

/* What the curl callbacks of one transfer share. */
struct http_transfer {
	struct http_response *rsp;
	size_t head_max;     /* http_get_head: keep this much, then end; 0: the whole body */
	bool truncated;      /* ended on purpose at head_max */
	bool too_big;
	bool aborted;
	bool stalled;
	http_stream_read_cb *read;
	void *payload;
	/* Stall watch of a stream: when a byte last moved, and the counters then. */
	uint64_t moved_ms;
	curl_off_t ul, dl;
	long stall_ms;
};

static pthread_once_t http_global_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc;

/* curl_global_init is not thread-safe: run it once, whoever comes first. */
static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Is url http(s)://host... without user:password@ in it? */
static bool http_url_is_valid(const char *url)
{
	const char *host, *end;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return false;
	end = host + strcspn(host, "/?#");
	if (end == host)
		return false;
	/* Credentials in the URL would end up in every message and log line. */
	if (memchr(host, '@', (size_t)(end - host)) != NULL)
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

int http_client_new(struct http_client **out, const struct http_client_opts *opts)
{
	struct http_client *c = NULL;
	size_t n;
	int rc = DA_ERROR;

	*out = NULL;
	if (opts->base_url == NULL || !http_url_is_valid(opts->base_url)) {
		/* Not echoed when it has an '@': what comes before it may be the token. */
		if (opts->base_url != NULL && strchr(opts->base_url, '@') != NULL)
			error_set("a Jenkins URL must not carry credentials (user:token@host): the "
				  "user and the token_file are set apart");
		else
			error_set("Jenkins URL '%s' is not an http:// or https:// URL",
				  opts->base_url ? opts->base_url : "");
		rc = DA_EINVALID;
		goto out;
	}
	if (opts->user == NULL || opts->token == NULL || strchr(opts->user, ':') != NULL) {
		error_set("Jenkins user and API token are required (and the user has no ':')");
		rc = DA_EINVALID;
		goto out;
	}
	pthread_once(&http_global_once, http_global_init);
	if (http_global_rc != CURLE_OK) {
		error_set("libcurl initialisation failed: %s", curl_easy_strerror(http_global_rc));
		goto out;
	}

	c = xcalloc(1, sizeof(*c));
	c->base_url = xstrdup(opts->base_url);
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	c->user = xstrdup(opts->user);
	c->token = xstrdup(opts->token);
	c->ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
	c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
							     : HTTP_DEFAULT_CONNECT_MS;
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	c->max_response = opts->max_response > 0 ? opts->max_response : HTTP_DEFAULT_MAX_RESPONSE;
	c->stream_stall_s = opts->stream_stall_s > 0 ? opts->stream_stall_s : HTTP_DEFAULT_STALL_S;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		error_set("curl_easy_init failed");
		goto out;
	}
	*out = c;
	c = NULL; /* the caller owns it now */
	rc = 0;
out:
	http_client_free(c);
	return rc;
}

void http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base_url);
	free(c->user);
	if (c->token) {
		/* Do not leave the secret lying in freed heap memory. */
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->ca_file);
	free(c);
}

const char *http_client_base_url(const struct http_client *c)
{
	return c->base_url;
}

void http_response_dispose(struct http_response *r)
{
	if (r == NULL)
		return;
	buf_dispose(&r->body);
	free(r->url);
	free(r->method);
	free(r->location);
	free(r->x_jenkins);
	free(r->x_error);
	free(r->x_required_permission);
	free(r->content_type);
	memset(r, 0, sizeof(*r));
}

/* Forget the headers of an interim answer (1xx): only the final one counts. */
static void http_response_headers_clear(struct http_response *r)
{
	char **fields[] = { &r->location, &r->x_jenkins, &r->x_error,
			    &r->x_required_permission, &r->content_type };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
}

static size_t http_on_header(char *data, size_t size, size_t nitems, void *userdata)
{
	struct http_transfer *t = userdata;
	struct http_response *r = t->rsp;
	size_t len = size * nitems;
	const struct {
		const char *name;
		char **field;
	} wanted[] = {
		{ "location", &r->location },
		{ "x-jenkins", &r->x_jenkins },
		{ "x-error", &r->x_error },
		{ "x-required-permission", &r->x_required_permission },
		{ "content-type", &r->content_type },
	};
	const char *colon, *v, *end;

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		http_response_headers_clear(r);
		return len;
	}
	colon = memchr(data, ':', len);
	if (colon == NULL)
		return len;
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		size_t nlen = strlen(wanted[i].name);

		if ((size_t)(colon - data) != nlen || strncasecmp(data, wanted[i].name, nlen) != 0)
			continue;
		/* A repeated header keeps its first value. */
		if (*wanted[i].field != NULL)
			break;
		v = colon + 1;
		end = data + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		if (end - v > HTTP_HEADER_MAX)
			end = v + HTTP_HEADER_MAX;
		*wanted[i].field = xstrndup(v, (size_t)(end - v));
		break;
	}
	return len;
}

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct http_transfer *t = userdata;
	size_t len = size * nmemb;

	if (t->head_max > 0) {
		size_t room = t->head_max - t->rsp->body.len;

		if (len > room) {
			/* Enough: keep what fits and end the transfer (http_perform knows why). */
			buf_put(&t->rsp->body, data, room);
			t->truncated = true;
			return 0;
		}
	}
	if (buf_put(&t->rsp->body, data, len) != 0) {
		/* Returning short makes curl abort the transfer (CURLE_WRITE_ERROR). */
		t->too_big = true;
		return 0;
	}
	return len;
}

static size_t http_on_read(char *buffer, size_t size, size_t nitems, void *userdata)
{
	struct http_transfer *t = userdata;
	ssize_t n = t->read(buffer, size * nitems, t->payload);

	if (n < 0) {
		t->aborted = true;
		return CURL_READFUNC_ABORT;
	}
	if ((size_t)n > size * nitems)
		n = (ssize_t)(size * nitems);
	/* Time spent waiting for the producer is not the server's stall. */
	t->moved_ms = time_mono_ms();
	return (size_t)n;
}

/*
 * Our own stall watch for streams. curl's LOW_SPEED check averages speed
 * over a window of several seconds, so it reacts late and depends on the
 * size of keep-alive chunks; "no byte moved either way for N s" is what we
 * mean and what the caller's keep-alives are sized against.
 */
static int http_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
			    curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_transfer *t = userdata;
	uint64_t now = time_mono_ms();

	(void)dltotal;
	(void)ultotal;
	if (ulnow != t->ul || dlnow != t->dl) {
		t->ul = ulnow;
		t->dl = dlnow;
		t->moved_ms = now;
		return 0;
	}
	if (now - t->moved_ms > (uint64_t)t->stall_ms) {
		t->stalled = true;
		return 1;
	}
	return 0;
}

/*
 * Set one option on handle h unless an earlier one failed: a run of options
 * is checked once, by the CURLcode cc in scope.
 */
#define HTTP_SET(h, opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt((h), (opt), (val)); } while (0)

/* Options every request has; applied after each curl_easy_reset. */
static int http_client_setup(struct http_client *c, struct http_transfer *t, const char *url)
{
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;

	curl_easy_reset(h);
	c->errbuf[0] = '\0';
	HTTP_SET(h, CURLOPT_ERRORBUFFER, c->errbuf);
	HTTP_SET(h, CURLOPT_URL, url);
	HTTP_SET(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Signals would interrupt the agent's own handlers; timeouts work without them. */
	HTTP_SET(h, CURLOPT_NOSIGNAL, 1L);
	/* Jenkins' 302/303 carry meaning (cancelItem, folded triggers): never follow. */
	HTTP_SET(h, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SET(h, CURLOPT_SSL_VERIFYPEER, 1L);
	HTTP_SET(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		HTTP_SET(h, CURLOPT_CAINFO, c->ca_file);
	/* Basic only: sent up front, so a body is never sent twice for a 401 dance. */
	HTTP_SET(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	HTTP_SET(h, CURLOPT_USERNAME, c->user);
	HTTP_SET(h, CURLOPT_PASSWORD, c->token);
	HTTP_SET(h, CURLOPT_USERAGENT, "dataops-agent/" DA_VERSION);
	HTTP_SET(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	/* Notice a peer that vanished while we wait for its answer. */
	HTTP_SET(h, CURLOPT_TCP_KEEPALIVE, 1L);
	HTTP_SET(h, CURLOPT_TCP_KEEPIDLE, 30L);
	HTTP_SET(h, CURLOPT_TCP_KEEPINTVL, 10L);
	HTTP_SET(h, CURLOPT_HEADERFUNCTION, http_on_header);
	HTTP_SET(h, CURLOPT_HEADERDATA, t);
	HTTP_SET(h, CURLOPT_WRITEFUNCTION, http_on_body);
	HTTP_SET(h, CURLOPT_WRITEDATA, t);
	HTTP_SET(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
	if (cc != CURLE_OK) {
		error_set("%s: setting up the request failed: %s", url, curl_easy_strerror(cc));
		return DA_ERROR;
	}
	return 0;
}

static bool http_code_is_connection(CURLcode cc)
{
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	       cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_RECV_ERROR ||
	       cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
	       cc == CURLE_PARTIAL_FILE || cc == CURLE_SEND_FAIL_REWIND ||
	       cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM ||
	       cc == CURLE_AGAIN;
}

/* Run the prepared transfer and turn curl's result into ours. */
static int http_perform(struct http_client *c, struct http_transfer *t, long limit_ms)
{
	struct http_response *r = t->rsp;
	uint64_t t0 = time_mono_ms();
	CURLcode cc = curl_easy_perform(c->curl);
	const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
	int rc = 0;

	long connects = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	/*
	 * A new connection where a kept-alive one was expected: libcurl found
	 * the old one dead, maybe after it had sent this request on it, and
	 * then sent it again (http.h, reconnected).
	 */
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects);
	r->reconnected = connects > 0 && c->had_connection;
	if (t->truncated && cc == CURLE_WRITE_ERROR) {
		r->truncated = true;
	} else if (t->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		error_set("%s %s: the answer is larger than the limit of %zu bytes", r->method,
			  r->url, c->max_response);
		rc = DA_ETOOBIG;
	} else if (t->stalled) {
		error_set("%s %s: no byte moved for %ld s; the server or the network is gone",
			  r->method, r->url, t->stall_ms / 1000);
		rc = DA_ETIMEOUT;
	} else if (t->aborted || cc == CURLE_ABORTED_BY_CALLBACK) {
		error_set("%s %s: the request body was aborted by its producer", r->method, r->url);
		rc = DA_ECANCELLED;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		error_set("%s %s: timed out after %llu ms (limit %ld ms): %s", r->method, r->url,
			  (unsigned long long)(time_mono_ms() - t0), limit_ms, why);
		rc = DA_ETIMEOUT;
	} else if (http_code_is_connection(cc)) {
		error_set("%s %s: connection failed: %s", r->method, r->url, why);
		rc = DA_ERETRY;
	} else if (cc != CURLE_OK) {
		error_set("%s %s: %s", r->method, r->url, why);
		rc = DA_ERROR;
	}
	if (rc == 0)
		c->had_connection = true;
	if (rc == 0)
		log_debug("%s %s -> %ld (%llu ms, %zu bytes)", r->method, r->url, r->status,
			  (unsigned long long)(time_mono_ms() - t0), r->body.len);
	else
		r->status = 0; /* no usable answer: callers must not act on a partial one */
	return rc;
}

/* Fill the caller's response with what every request knows up front. */
static int http_response_start(struct http_response *out, struct http_client *c,
			       const char *method, const char *path)
{
	memset(out, 0, sizeof(*out));
	buf_init(&out->body, c->max_response);
	out->method = xstrdup(method ? method : "");
	out->url = xasprintf("%s%s", c->base_url, path ? path : "");
	if (method == NULL || *method == '\0' || path == NULL || path[0] != '/') {
		error_set("HTTP request '%s %s': the path must start with '/'", out->method,
			  path ? path : "");
		return DA_EINVALID;
	}
	return 0;
}

/* The headers every request sends (curl copies the strings). */
static struct curl_slist *http_headers_new(const char *content_type, bool chunked)
{
	struct curl_slist *hdrs = NULL;
	char *ct = NULL;

	/* libcurl's 100-continue wait only adds a round trip with Jenkins. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	/* Queue 'why' strings are localised per request (jenkins-api.md §5.3). */
	hdrs = curl_slist_append(hdrs, "Accept-Language: en");
	/* POST + read callback + this header: libcurl frames each read as one chunk. */
	if (chunked)
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	if (content_type) {
		ct = xasprintf("Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, ct);
		free(ct);
	}
	if (hdrs == NULL)
		fatal("out of memory");
	return hdrs;
}

/* http_request, and with head_max > 0 http_get_head. */
static int http_exchange(struct http_response *out, struct http_client *c, const char *method,
			 const char *path_and_query, const char *content_type, const void *body,
			 size_t body_len, size_t head_max)
{
	struct http_transfer t = { .rsp = out, .head_max = head_max };
	struct curl_slist *hdrs = NULL;
	CURLcode cc = CURLE_OK;
	int rc;

	rc = http_response_start(out, c, method, path_and_query);
	if (rc != 0)
		goto out;
	rc = http_client_setup(c, &t, out->url);
	if (rc != 0)
		goto out;
	hdrs = http_headers_new(content_type, false);
	HTTP_SET(c->curl, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "GET") == 0) {
		HTTP_SET(c->curl, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		HTTP_SET(c->curl, CURLOPT_NOBODY, 1L);
	} else {
		/* POSTFIELDS with an explicit size sends any bytes; "" for an empty body. */
		HTTP_SET(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
		HTTP_SET(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
		if (strcmp(method, "POST") != 0)
			HTTP_SET(c->curl, CURLOPT_CUSTOMREQUEST, method);
	}
	HTTP_SET(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	/* A head is cut by http_on_body: a Content-Length past the cap is no error. */
	if (head_max > 0)
		HTTP_SET(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
	if (cc != CURLE_OK) {
		error_set("%s %s: setting up the request failed: %s", method, out->url,
			  curl_easy_strerror(cc));
		rc = DA_ERROR;
		goto out;
	}
	rc = http_perform(c, &t, c->timeout_ms);
out:
	curl_slist_free_all(hdrs);
	return rc;
}

int http_request(struct http_response *out, struct http_client *c, const char *method,
		 const char *path_and_query, const char *content_type, const void *body,
		 size_t body_len)
{
	return http_exchange(out, c, method, path_and_query, content_type, body, body_len, 0);
}

int http_get_head(struct http_response *out, struct http_client *c, const char *path_and_query,
		  size_t head_max)
{
	return http_exchange(out, c, "GET", path_and_query, NULL, NULL, 0,
			     head_max > 0 && head_max < c->max_response ? head_max : c->max_response);
}

int http_stream_post(struct http_response *out, struct http_client *c, const char *path,
		     const char *content_type, http_stream_read_cb *read, void *payload)
{
	struct http_transfer t = { .rsp = out, .read = read, .payload = payload,
				   .moved_ms = time_mono_ms(),
				   .stall_ms = c->stream_stall_s * 1000 };
	struct curl_slist *hdrs = NULL;
	CURLcode cc = CURLE_OK;
	int rc;

	rc = http_response_start(out, c, "POST", path);
	if (rc != 0)
		goto out;
	rc = http_client_setup(c, &t, out->url);
	if (rc != 0)
		goto out;
	hdrs = http_headers_new(content_type, true);
	HTTP_SET(c->curl, CURLOPT_HTTPHEADER, hdrs);
	HTTP_SET(c->curl, CURLOPT_POST, 1L);
	HTTP_SET(c->curl, CURLOPT_READFUNCTION, http_on_read);
	HTTP_SET(c->curl, CURLOPT_READDATA, &t);
	/*
	 * A body we cannot rewind must not start on a pooled connection the
	 * server may have closed meanwhile: curl would retry and need to
	 * rewind. One fresh connection per run record costs one handshake.
	 */
	HTTP_SET(c->curl, CURLOPT_FRESH_CONNECT, 1L);
	/*
	 * A run lasts as long as it lasts: no overall limit. A dead server is
	 * noticed when no byte moves for stream_stall_s (http_on_progress);
	 * the caller's keep-alive comments keep an idle but live stream moving.
	 */
	HTTP_SET(c->curl, CURLOPT_TIMEOUT_MS, 0L);
	HTTP_SET(c->curl, CURLOPT_NOPROGRESS, 0L);
	HTTP_SET(c->curl, CURLOPT_XFERINFOFUNCTION, http_on_progress);
	HTTP_SET(c->curl, CURLOPT_XFERINFODATA, &t);
	if (cc != CURLE_OK) {
		error_set("POST %s: setting up the stream failed: %s", out->url, curl_easy_strerror(cc));
		rc = DA_ERROR;
		goto out;
	}
	rc = http_perform(c, &t, c->stream_stall_s * 1000);
out:
	curl_slist_free_all(hdrs);
	return rc;
}

/*
 * Copy outside text into a message: at most max bytes, whitespace runs
 * collapsed, control bytes dropped, so a server cannot forge log lines.
 */
static void http_text_clean(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;
	bool space = false;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (isspace(ch)) {
			space = n > 0;
			continue;
		}
		if (ch < 0x20 || ch == 0x7f)
			continue;
		if (space && n + 2 < size)
			dst[n++] = ' ';
		space = false;
		dst[n++] = (char)ch;
	}
	dst[n] = '\0';
}

/* Case-insensitive strstr for ASCII tags (strcasestr is a GNU extension). */
static const char *http_find_tag(const char *hay, const char *tag)
{
	size_t n = strlen(tag);

	for (; *hay; hay++)
		if (strncasecmp(hay, tag, n) == 0)
			return hay;
	return NULL;
}

/* Jenkins' words from an error body: the HTML <title>, or a text body's first line; never a page. */
static void http_body_summary(char *dst, size_t size, const struct http_response *r)
{
	const char *b = buf_cstr(&r->body);
	const char *ct = r->content_type ? r->content_type : "";
	const char *start, *end;

	dst[0] = '\0';
	if (strncasecmp(ct, "text/plain", 10) == 0) {
		/* Before 2.224 an error body is a stack trace: its first line is the message. */
		end = b + strcspn(b, "\r\n");
		http_text_clean(dst, size, b, (size_t)(end - b));
		return;
	}
	start = http_find_tag(b, "<title>");
	if (start == NULL)
		return;
	start += 7;
	end = http_find_tag(start, "</title>");
	if (end == NULL)
		end = start + strnlen(start, HTTP_TEXT_MAX);
	http_text_clean(dst, size, start, (size_t)(end - start));
}

int http_check_status(const struct http_response *r, const char *user)
{
	char said[HTTP_TEXT_MAX + 1], xerr[HTTP_TEXT_MAX * 2 + 1], perm[HTTP_TEXT_MAX + 1];
	char extra[HTTP_TEXT_MAX * 2 + 16];
	long st = r->status;
	const char *u = user ? user : "";

	if (st >= 200 && st < 400)
		return 0;
	http_body_summary(said, sizeof(said), r);
	xerr[0] = perm[0] = '\0';
	if (r->x_error)
		http_text_clean(xerr, sizeof(xerr), r->x_error, strlen(r->x_error));
	if (r->x_required_permission)
		http_text_clean(perm, sizeof(perm), r->x_required_permission,
				strlen(r->x_required_permission));
	/* Jenkins' own message, once: X-Error first, else the page's title. */
	extra[0] = '\0';
	if (xerr[0])
		snprintf(extra, sizeof(extra), ": %s", xerr);
	else if (said[0])
		snprintf(extra, sizeof(extra), " (Jenkins: %s)", said);

	if (st == 401) {
		error_set("Jenkins at %s refused the API token of user '%s' (401)", r->url, u);
		return DA_EAUTH;
	}
	if (st == 403) {
		if (perm[0])
			error_set("%s %s: user '%s' lacks the Jenkins permission %s (403)", r->method,
				  r->url, u, perm);
		else
			error_set("%s %s: 403 Forbidden for user '%s'%s", r->method, r->url, u, extra);
		return DA_EAUTH;
	}
	if (st == 404) {
		error_set("%s %s: 404 Not Found (missing, or not visible to user '%s')", r->method,
			  r->url, u);
		return DA_ENOTFOUND;
	}
	if (st == 409) {
		error_set("%s %s: 409 Conflict%s", r->method, r->url, extra);
		return DA_ECONFLICT;
	}
	if (st == 400) {
		error_set("%s %s: 400 Bad Request%s", r->method, r->url, extra);
		return DA_EINVALID;
	}
	if (st >= 500 && st < 600) {
		error_set("%s %s: Jenkins answered %ld%s", r->method, r->url, st, extra);
		return DA_ERETRY;
	}
	error_set("%s %s: unexpected HTTP status %ld%s", r->method, r->url, st, extra);
	return DA_ERROR;
}

/* Digits at *p as an int; advances *p. -1 when there are none or too many. */
static int http_parse_number(const char **p)
{
	long v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s - '0');
		if (v > 1000000)
			return -1;
		s++;
	}
	*p = s;
	return (int)v;
}

int http_jenkins_version(int *major, int *minor, int *patch, const char *x_jenkins)
{
	const char *p = x_jenkins;
	int a, b, c = 0;

	*major = *minor = *patch = 0;
	if (p == NULL)
		goto bad;
	while (*p == ' ')
		p++;
	a = http_parse_number(&p);
	if (a < 0 || *p++ != '.')
		goto bad;
	b = http_parse_number(&p);
	if (b < 0)
		goto bad;
	if (*p == '.') {
		p++;
		c = http_parse_number(&p);
		if (c < 0)
			goto bad;
	}
	/* "2.453-SNAPSHOT (private-…)" is a real value; "2.4x" is not. */
	if (*p != '\0' && *p != '-' && *p != ' ')
		goto bad;
	*major = a;
	*minor = b;
	*patch = c;
	return 0;
bad:
	error_set("'%.40s' is not a Jenkins version (X-Jenkins)", x_jenkins ? x_jenkins : "");
	return DA_EINVALID;
}

bool http_jenkins_at_least(const char *x_jenkins, int major, int minor)
{
	int a, b, c;

	if (http_jenkins_version(&a, &b, &c, x_jenkins) != 0) {
		error_clear();
		return false;
	}
	return a > major || (a == major && b >= minor);
}

/* xorshift64*: per thread, so no lock and no shared rand() state. */
static uint64_t http_random(void)
{
	static _Thread_local uint64_t state;

	if (state == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		state = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
			((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&state ^ time_mono_ms();
		if (state == 0)
			state = 0x9e3779b97f4a7c15u;
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1du;
}

unsigned http_backoff_ms(unsigned attempt, unsigned base_ms, unsigned max_ms)
{
	uint64_t cap = base_ms;

	/* Double up to max_ms; stop shifting before it can overflow. */
	for (unsigned i = 0; i < attempt && cap < max_ms; i++)
		cap <<= 1;
	if (cap > max_ms)
		cap = max_ms;
	if (cap == 0)
		return 0;
	return (unsigned)(http_random() % (cap + 1));
}
