/*
 * Unit tests for common/http.c against the real Jenkins double
 * (tests/doubles/jenkins), started once per group on a free loopback port
 * and killed by pid at the end. Every request has a timeout, and the
 * double's start is bounded by 10 s, so nothing here can hang. Without
 * /usr/bin/python3 the tests that need the double are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "double.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "sleep.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DOUBLE DA_SOURCE_DIR "/tests/doubles/jenkins/jenkins_double.py"
#define ALICE_TOKEN "tok-alice-5ecret"

static const char folder_xml[] =
	"<com.cloudbees.hudson.plugins.folder.Folder><actions/><description>t</description>"
	"<properties/><folderViews/><healthMetrics/></com.cloudbees.hudson.plugins.folder.Folder>";
static const char external_xml[] =
	"<hudson.model.ExternalJob><actions/><description>runs</description>"
	"<keepDependencies>false</keepDependencies><properties/></hudson.model.ExternalJob>";

/* The double of this test binary. */
static struct test_double jd;

static int group_setup(void **state)
{
	static const char *const args[] = {
		"--users", "alice:" ALICE_TOKEN ",viewer:tok-viewer:read", "--version", "2.426.3", NULL,
	};
	int rc;

	(void)state;
	if (double_prepare(&jd, "test_http") != 0)
		return -1;
	rc = double_start(&jd, DOUBLE, args);
	return rc > 0 ? 0 : rc; /* no python: the tests that need the double skip() */
}

static int group_teardown(void **state)
{
	(void)state;
	double_stop(&jd);
	return 0;
}

static void need_double(void)
{
	if (jd.url[0] == '\0')
		skip();
}

/* Options for alice at url; every limit left at its default. */
static struct http_client_opts alice_at(const char *url)
{
	struct http_client_opts o = HTTP_CLIENT_OPTS_INIT;

	o.base_url = url;
	o.user = "alice";
	o.token = ALICE_TOKEN;
	return o;
}

static struct http_client *client_new(const char *user, const char *token, size_t max)
{
	struct http_client_opts o = HTTP_CLIENT_OPTS_INIT;
	struct http_client *c;

	o.base_url = jd.url;
	o.user = user;
	o.token = token;
	o.connect_timeout_ms = 2000;
	o.timeout_ms = 10000;
	o.max_response = max;
	o.stream_stall_s = 10;
	assert_int_equal(http_client_new(&c, &o), 0);
	return c;
}

/* One request that must get an answer; returns http_check_status's code. */
static int request_status(struct http_client *c, const char *user, const char *method,
			  const char *path, const char *ctype, const char *body)
{
	struct http_response r;
	int rc;

	assert_int_equal(http_request(&r, c, method, path, ctype, body, body ? strlen(body) : 0), 0);
	rc = http_check_status(&r, user);
	http_response_dispose(&r);
	return rc;
}

/* A folder and, in it, an external job that run records can be posted to. */
static void create_runs_job(struct http_client *c, const char *folder, const char *job)
{
	char path[128];

	snprintf(path, sizeof(path), "/createItem?name=%s", folder);
	assert_int_equal(request_status(c, "alice", "POST", path, "application/xml", folder_xml), 0);
	snprintf(path, sizeof(path), "/job/%s/createItem?name=%s", folder, job);
	assert_int_equal(request_status(c, "alice", "POST", path, "application/xml", external_xml), 0);
}

/*
 * A loopback TCP socket on a port the kernel picked, its URL in url:
 * listening (connections are accepted by the kernel, never answered) or
 * closed again (nobody listens there). Returns the fd, or -1 once closed.
 */
static int loopback_port(char url[64], bool listening)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listening)
		assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, 64, "http://127.0.0.1:%d", ntohs(sa.sin_port));
	if (listening)
		return fd;
	close(fd);
	return -1;
}

static void test_http__get_reads_status_body_and_x_jenkins(void **state)
{
	struct http_client *c;
	struct http_response r;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 0);
	for (int i = 0; i < 2; i++) { /* the second one reuses the connection */
		assert_int_equal(http_request(&r, c, "GET", "/api/json", NULL, NULL, 0), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(http_check_status(&r, "alice"), 0);
		assert_string_equal(r.x_jenkins, "2.426.3");
		assert_true(http_jenkins_at_least(r.x_jenkins, 2, 211));
		assert_non_null(r.content_type);
		assert_non_null(strstr(buf_cstr(&r.body), "hudson.model.Hudson"));
		http_response_dispose(&r);
	}
	http_client_free(c);
}

static void test_http__bad_token_is_eauth_without_the_token(void **state)
{
	struct http_client *c;
	struct http_response r;

	(void)state;
	need_double();
	c = client_new("alice", "wrong-t0ken-xyz", 0);
	assert_int_equal(http_request(&r, c, "GET", "/api/json", NULL, NULL, 0), 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(http_check_status(&r, "alice"), DA_EAUTH);
	assert_non_null(strstr(error_last(), "'alice'"));
	assert_non_null(strstr(error_last(), jd.url));
	assert_non_null(strstr(error_last(), "401"));
	assert_null(strstr(error_last(), "wrong-t0ken-xyz"));
	assert_null(strstr(error_last(), "<"));
	http_response_dispose(&r);
	http_client_free(c);
}

static void test_http__debug_log_names_url_not_token(void **state)
{
	char path[128], text[8192];
	struct http_client *c;
	int saved, fd;
	ssize_t n;

	(void)state;
	need_double();
	snprintf(path, sizeof(path), "%s/log", jd.dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_set_level(LOG_DEBUG);
	c = client_new("alice", ALICE_TOKEN, 0);
	request_status(c, "alice", "GET", "/api/json", NULL, NULL);
	http_client_free(c);
	c = client_new("alice", "wrong-t0ken-xyz", 0);
	request_status(c, "alice", "GET", "/api/json", NULL, NULL);
	http_client_free(c);
	log_set_level(LOG_INFO);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, "/api/json"));
	assert_null(strstr(text, ALICE_TOKEN));
	assert_null(strstr(text, "wrong-t0ken-xyz"));
}

static void test_http__missing_permission_is_named(void **state)
{
	struct http_client *c;

	(void)state;
	need_double();
	c = client_new("viewer", "tok-viewer", 0);
	assert_int_equal(request_status(c, "viewer", "POST", "/createItem?name=nope",
					"application/xml", folder_xml),
			 DA_EAUTH);
	assert_non_null(strstr(error_last(), "hudson.model.Item.Create"));
	assert_non_null(strstr(error_last(), "'viewer'"));
	assert_null(strstr(error_last(), "<"));
	http_client_free(c);
}

static void test_http__duplicate_item_gives_x_error(void **state)
{
	struct http_client *c;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 0);
	assert_int_equal(request_status(c, "alice", "POST", "/createItem?name=dup",
					"application/xml", folder_xml),
			 0);
	assert_int_equal(request_status(c, "alice", "POST", "/createItem?name=dup",
					"application/xml", folder_xml),
			 DA_EINVALID);
	assert_non_null(strstr(error_last(), "A job already exists with the name"));
	assert_non_null(strstr(error_last(), "POST "));
	assert_null(strstr(error_last(), "<"));
	http_client_free(c);
}

static void test_http__missing_item_is_enotfound(void **state)
{
	struct http_client *c;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 0);
	assert_int_equal(request_status(c, "alice", "GET", "/job/nope/api/json", NULL, NULL),
			 DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "/job/nope/api/json"));
	assert_non_null(strstr(error_last(), "404"));
	http_client_free(c);
}

static void test_http__status_503_is_eretry(void **state)
{
	struct http_client *c;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 0);
	assert_int_equal(request_status(c, "alice", "POST", "/_double/faults", "application/json",
					"{\"status503\": 1, \"match\": \"^/api/json\"}"),
			 0);
	assert_int_equal(request_status(c, "alice", "GET", "/api/json", NULL, NULL), DA_ERETRY);
	assert_non_null(strstr(error_last(), "503"));
	assert_null(strstr(error_last(), "<"));
	/* The fault was for one request only. */
	assert_int_equal(request_status(c, "alice", "GET", "/api/json", NULL, NULL), 0);
	http_client_free(c);
}

static void test_http__answer_past_cap_is_etoobig(void **state)
{
	struct http_client *c;
	struct http_response r;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 64);
	assert_int_equal(http_request(&r, c, "GET", "/api/json", NULL, NULL, 0), DA_ETOOBIG);
	assert_non_null(strstr(error_last(), "64 bytes"));
	assert_true(r.body.len <= 64);
	http_response_dispose(&r);
	/* The handle is still usable after an aborted transfer. */
	assert_int_equal(http_request(&r, c, "GET", "/_double/faults", NULL, NULL, 0), 0);
	assert_int_equal(r.status, 200);
	http_response_dispose(&r);
	http_client_free(c);
}

/* A head of an answer: its first bytes, the rest cut off without an error, even past the cap. */
static void test_http__get_head_keeps_the_start(void **state)
{
	struct http_client *whole = NULL, *small = NULL;
	struct http_response full, r;

	(void)state;
	need_double();
	whole = client_new("alice", ALICE_TOKEN, 0);
	small = client_new("alice", ALICE_TOKEN, 64);
	assert_int_equal(http_request(&full, whole, "GET", "/api/json", NULL, NULL, 0), 0);
	assert_true(full.body.len > 64);

	/* 16 of its bytes: the same 16 it starts with, and it says there was more. */
	assert_int_equal(http_get_head(&r, small, "/api/json", 16), 0);
	assert_int_equal(r.status, 200);
	assert_true(r.truncated);
	assert_int_equal(r.body.len, 16);
	assert_memory_equal(r.body.ptr, full.body.ptr, 16);
	http_response_dispose(&r);
	/* No head_max: the client's cap is the head, and not an error as for http_request. */
	assert_int_equal(http_get_head(&r, small, "/api/json", 0), 0);
	assert_true(r.truncated);
	assert_int_equal(r.body.len, 64);
	http_response_dispose(&r);
	/* A head larger than the answer is the whole answer. */
	assert_int_equal(http_get_head(&r, whole, "/api/json", 1 << 20), 0);
	assert_false(r.truncated);
	assert_int_equal(r.body.len, full.body.len);
	assert_memory_equal(r.body.ptr, full.body.ptr, full.body.len);
	http_response_dispose(&r);
	/* The handle a cut transfer used serves the next request. */
	assert_int_equal(http_request(&r, small, "GET", "/_double/faults", NULL, NULL, 0), 0);
	assert_int_equal(r.status, 200);
	http_response_dispose(&r);
	http_response_dispose(&full);
	http_client_free(small);
	http_client_free(whole);
}

static void test_http__slow_answer_is_etimeout(void **state)
{
	struct http_client_opts o = alice_at(jd.url);
	struct http_client *c, *ctl;
	struct http_response r;
	uint64_t t0;

	(void)state;
	need_double();
	ctl = client_new("alice", ALICE_TOKEN, 0);
	assert_int_equal(request_status(ctl, "alice", "POST", "/_double/faults", "application/json",
					"{\"slow\": 1, \"delay_ms\": 10000, \"match\": \"^/api/json\"}"),
			 0);
	o.timeout_ms = 300;
	assert_int_equal(http_client_new(&c, &o), 0);
	t0 = time_mono_ms();
	assert_int_equal(http_request(&r, c, "GET", "/api/json", NULL, NULL, 0), DA_ETIMEOUT);
	/* Ended by the 300 ms limit, far from the 10 s answer even on a loaded machine. */
	assert_true(time_mono_ms() - t0 < 5000);
	assert_non_null(strstr(error_last(), "timed out"));
	assert_int_equal(r.status, 0);
	http_response_dispose(&r);
	http_client_free(c);
	http_client_free(ctl);
}

static void test_http__connection_refused_is_eretry(void **state)
{
	struct http_client_opts o;
	struct http_client *c;
	struct http_response r;
	char url[64];

	(void)state;
	loopback_port(url, false);
	o = alice_at(url);
	o.connect_timeout_ms = 2000;
	o.timeout_ms = 5000;
	assert_int_equal(http_client_new(&c, &o), 0);
	assert_int_equal(http_request(&r, c, "GET", "/queue/api/json", NULL, NULL, 0), DA_ERETRY);
	assert_non_null(strstr(error_last(), url));
	assert_non_null(strstr(error_last(), "GET "));
	assert_null(strstr(error_last(), ALICE_TOKEN));
	http_response_dispose(&r);
	http_client_free(c);
}

static void test_http__client_refuses_bad_urls(void **state)
{
	struct http_client_opts o = HTTP_CLIENT_OPTS_INIT;
	struct http_client *c;
	/* The token itself in one of them: no message may echo it. */
	const char *bad[] = { "ftp://x", "http://", "http://alice:" ALICE_TOKEN "@host",
			      "localhost:8080", "http://a b" };

	(void)state;
	o.user = "alice";
	o.token = ALICE_TOKEN;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.base_url = bad[i];
		assert_int_equal(http_client_new(&c, &o), DA_EINVALID);
		assert_null(c);
		assert_null(strstr(error_last(), ALICE_TOKEN));
	}
	o.base_url = "https://jenkins.example/ci/";
	assert_int_equal(http_client_new(&c, &o), 0);
	assert_string_equal(http_client_base_url(c), "https://jenkins.example/ci");
	http_client_free(c);
}

static void test_http__check_status_takes_title_not_page(void **state)
{
	struct http_response r;
	char *page;

	(void)state;
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 1 << 20);
	r.status = 500;
	r.url = xstrdup("http://j/x");
	r.method = xstrdup("GET");
	r.content_type = xstrdup("text/html;charset=utf-8");
	page = xcalloc(1, 5000);
	memset(page, 'A', 4000);
	assert_int_equal(buf_printf(&r.body, "<html><head><TITLE>\n  Oops!\r\n%s</title></head><body>%s"
					      "</body></html>", page, "secret page body"), 0);
	assert_int_equal(http_check_status(&r, "alice"), DA_ERETRY);
	assert_non_null(strstr(error_last(), "Oops! AAAA"));
	assert_null(strstr(error_last(), "secret page body"));
	assert_null(strstr(error_last(), "\n"));
	assert_true(strlen(error_last()) < 300);
	r.status = 303;
	assert_int_equal(http_check_status(&r, "alice"), 0);
	r.status = 409;
	assert_int_equal(http_check_status(&r, "alice"), DA_ECONFLICT);
	free(page);
	http_response_dispose(&r);
}

static void test_http__jenkins_versions(void **state)
{
	int a, b, c;

	(void)state;
	assert_int_equal(http_jenkins_version(&a, &b, &c, "2.426.3"), 0);
	assert_int_equal(a, 2);
	assert_int_equal(b, 426);
	assert_int_equal(c, 3);
	assert_int_equal(http_jenkins_version(&a, &b, &c, "2.211"), 0);
	assert_int_equal(c, 0);
	assert_true(http_jenkins_at_least("2.211", 2, 211));
	assert_false(http_jenkins_at_least("2.210", 2, 211));
	assert_true(http_jenkins_at_least("2.426.3", 2, 211));
	assert_true(http_jenkins_at_least("3.1", 2, 211));
	assert_true(http_jenkins_at_least("2.453-SNAPSHOT (private)", 2, 211));
	assert_false(http_jenkins_at_least("1.999", 2, 211));
	assert_false(http_jenkins_at_least(NULL, 2, 211));
	assert_false(http_jenkins_at_least("", 2, 211));
	assert_false(http_jenkins_at_least("garbage", 2, 211));
	assert_false(http_jenkins_at_least("2.", 2, 211));
	assert_false(http_jenkins_at_least("2.4x", 2, 211));
	assert_false(http_jenkins_at_least("99999999999.1", 2, 211));
	assert_int_equal(http_jenkins_version(&a, &b, &c, "junk"), DA_EINVALID);
}

static void test_http__backoff_stays_in_bounds(void **state)
{
	unsigned seen_max = 0, v;
	bool varied = false;

	(void)state;
	for (unsigned attempt = 0; attempt < 40; attempt++) {
		unsigned cap = attempt < 10 ? (100u << attempt) : 30000u;

		if (cap > 30000u)
			cap = 30000u;
		for (int i = 0; i < 200; i++) {
			v = http_backoff_ms(attempt, 100, 30000);
			assert_true(v <= cap);
			if (v > seen_max)
				seen_max = v;
			if (v != http_backoff_ms(attempt, 100, 30000))
				varied = true;
		}
	}
	assert_true(varied);
	assert_true(seen_max > 15000); /* full jitter reaches high in the range */
	assert_int_equal(http_backoff_ms(5, 0, 1000), 0);
	assert_true(http_backoff_ms(UINT32_MAX, 1000, 5000) <= 5000);
	assert_true(http_backoff_ms(3, 4000000000u, 4100000000u) <= 4100000000u);
}

/* The body of one run record, piece by piece: each piece is one chunk. */
struct record {
	const char *const *pieces;
	size_t next;
	struct http_client *peek; /* a second client that reads the log mid-stream */
	bool seen_live;
};

static bool console_has(struct http_client *c, const char *path, const char *want)
{
	struct http_response r;
	bool found = false;

	if (http_request(&r, c, "GET", path, NULL, NULL, 0) == 0 && r.status == 200)
		found = strstr(buf_cstr(&r.body), want) != NULL;
	http_response_dispose(&r);
	return found;
}

static ssize_t record_read(char *buf, size_t len, void *payload)
{
	struct record *rec = payload;
	const char *p = rec->pieces[rec->next];
	size_t n;

	if (p == NULL)
		return 0;
	if (strcmp(p, "ABORT") == 0)
		return -1;
	if (strcmp(p, "PEEK") == 0) {
		/* "hello" went out as HEX<!----> : Jenkins shows it while we still stream. */
		uint64_t deadline = time_mono_ms() + 5000;

		while (!rec->seen_live && time_mono_ms() < deadline) {
			rec->seen_live = console_has(rec->peek, "/job/rec/job/one-runs/lastBuild/consoleText",
						     "hello\n");
			if (!rec->seen_live)
				sleep_ms(50);
		}
		p = "<!---->";
	}
	n = strlen(p);
	if (n > len)
		return -1; /* not an assert: it would longjmp through libcurl */
	memcpy(buf, p, n);
	rec->next++;
	return (ssize_t)n;
}

static void test_http__stream_post_records_a_run(void **state)
{
	/* 68656c6c6f0a is "hello\n". */
	static const char *const pieces[] = {
		"<run><log encoding=\"hexBinary\" content-encoding=\"UTF-8\">",
		"68656c6c6f0a<!---->",
		"PEEK",
		"<!---->",
		"</log><result>0</result><duration>5</duration></run>",
		NULL,
	};
	struct record rec = { .pieces = pieces };
	struct http_client *c;
	struct http_response r;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 0);
	rec.peek = client_new("alice", ALICE_TOKEN, 0);
	create_runs_job(c, "rec", "one-runs");
	assert_int_equal(http_stream_post(&r, c, "/job/rec/job/one-runs/postBuildResult",
					  "application/xml; charset=UTF-8", record_read, &rec),
			 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(http_check_status(&r, "alice"), 0);
	http_response_dispose(&r);
	assert_true(rec.seen_live);
	/*
	 * On the wire: chunked, no Expect: 100-continue wait, XML content type.
	 * The double logs a request after answering it: wait for the entry.
	 */
	{
		uint64_t deadline = time_mono_ms() + 5000;
		const char *log = NULL;

		for (;;) {
			assert_int_equal(http_request(&r, c, "GET", "/_double/requests", NULL, NULL, 0), 0);
			log = strstr(buf_cstr(&r.body), "postBuildResult");
			if (log != NULL || time_mono_ms() > deadline)
				break;
			http_response_dispose(&r);
			sleep_ms(50);
		}
		assert_non_null(log);
		assert_non_null(strstr(log, "\"Transfer-Encoding\": \"chunked\""));
		assert_non_null(strstr(log, "application/xml; charset=UTF-8"));
		assert_null(strstr(log, "\"Expect\""));
	}
	http_response_dispose(&r);
	assert_true(console_has(c, "/job/rec/job/one-runs/1/consoleText", "\nhello\n"));
	assert_true(console_has(c, "/job/rec/job/one-runs/1/api/json", "\"SUCCESS\""));
	assert_true(console_has(c, "/job/rec/job/one-runs/1/api/json", "\"duration\": 5") ||
		    console_has(c, "/job/rec/job/one-runs/1/api/json", "\"duration\":5"));
	http_client_free(rec.peek);
	http_client_free(c);
}

static void test_http__stream_abort_is_ecancelled(void **state)
{
	static const char *const pieces[] = {
		"<run><log encoding=\"hexBinary\">",
		"6869<!---->",
		"ABORT",
		NULL,
	};
	struct record rec = { .pieces = pieces };
	struct http_client *c;
	struct http_response r;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 0);
	create_runs_job(c, "ab", "x-runs");
	assert_int_equal(http_stream_post(&r, c, "/job/ab/job/x-runs/postBuildResult",
					  "application/xml; charset=UTF-8", record_read, &rec),
			 DA_ECANCELLED);
	assert_int_equal(r.status, 0);
	http_response_dispose(&r);
	/* The same client goes on working on a new connection. */
	assert_int_equal(request_status(c, "alice", "GET", "/api/json", NULL, NULL), 0);
	http_client_free(c);
}

/* A body of keep-alive comments, one every 300 ms for about 2.5 s. */
struct idle_stream {
	int sent;
	int comments;
};

static ssize_t idle_read(char *buf, size_t len, void *payload)
{
	struct idle_stream *st = payload;
	const char *p;

	if (st->sent == 0)
		p = "<run><log encoding=\"hexBinary\">6869<!---->";
	else if (st->sent <= st->comments) {
		sleep_ms(300);
		p = "<!---->";
	} else if (st->sent == st->comments + 1)
		p = "</log><result>0</result></run>";
	else
		return 0;
	st->sent++;
	if (strlen(p) > len)
		return -1;
	memcpy(buf, p, strlen(p));
	return (ssize_t)strlen(p);
}

static void test_http__stream_idle_but_alive_is_not_killed(void **state)
{
	struct http_client_opts o = alice_at(jd.url);
	struct idle_stream st = { .comments = 8 };
	struct http_client *c;
	struct http_response r;

	(void)state;
	need_double();
	c = client_new("alice", ALICE_TOKEN, 0);
	create_runs_job(c, "idle", "x-runs");
	http_client_free(c);
	/* A 1 s stall limit and a request timeout far below the stream's length. */
	o.timeout_ms = 500;
	o.stream_stall_s = 1;
	assert_int_equal(http_client_new(&c, &o), 0);
	assert_int_equal(http_stream_post(&r, c, "/job/idle/job/x-runs/postBuildResult",
					  "application/xml; charset=UTF-8", idle_read, &st),
			 0);
	assert_int_equal(r.status, 200);
	http_response_dispose(&r);
	http_client_free(c);
	/* Checked with a client of ordinary timeouts: 500 ms is too short under load. */
	c = client_new("alice", ALICE_TOKEN, 0);
	assert_true(console_has(c, "/job/idle/job/x-runs/1/api/json", "\"SUCCESS\""));
	http_client_free(c);
}

static void test_http__stream_to_dead_server_times_out(void **state)
{
	static const char *const pieces[] = { "<run><log encoding=\"hexBinary\">", NULL };
	struct http_client_opts o;
	struct record rec = { .pieces = pieces };
	struct http_client *c;
	struct http_response r;
	char url[64];
	uint64_t t0;
	int fd;

	(void)state;
	/* A server that accepts connections in the kernel and never answers. */
	fd = loopback_port(url, true);
	o = alice_at(url);
	o.stream_stall_s = 1;
	assert_int_equal(http_client_new(&c, &o), 0);
	t0 = time_mono_ms();
	assert_int_equal(http_stream_post(&r, c, "/job/x/postBuildResult", "application/xml",
					  record_read, &rec),
			 DA_ETIMEOUT);
	/* The stall limit is 1 s; progress is checked about once a second. */
	assert_true(time_mono_ms() - t0 < 4000);
	assert_non_null(strstr(error_last(), url));
	assert_non_null(strstr(error_last(), "no byte moved"));
	http_response_dispose(&r);
	http_client_free(c);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http__get_reads_status_body_and_x_jenkins),
		cmocka_unit_test(test_http__bad_token_is_eauth_without_the_token),
		cmocka_unit_test(test_http__debug_log_names_url_not_token),
		cmocka_unit_test(test_http__missing_permission_is_named),
		cmocka_unit_test(test_http__duplicate_item_gives_x_error),
		cmocka_unit_test(test_http__missing_item_is_enotfound),
		cmocka_unit_test(test_http__status_503_is_eretry),
		cmocka_unit_test(test_http__answer_past_cap_is_etoobig),
		cmocka_unit_test(test_http__get_head_keeps_the_start),
		cmocka_unit_test(test_http__slow_answer_is_etimeout),
		cmocka_unit_test(test_http__connection_refused_is_eretry),
		cmocka_unit_test(test_http__client_refuses_bad_urls),
		cmocka_unit_test(test_http__check_status_takes_title_not_page),
		cmocka_unit_test(test_http__jenkins_versions),
		cmocka_unit_test(test_http__backoff_stays_in_bounds),
		cmocka_unit_test(test_http__stream_post_records_a_run),
		cmocka_unit_test(test_http__stream_abort_is_ecancelled),
		cmocka_unit_test(test_http__stream_idle_but_alive_is_not_killed),
		cmocka_unit_test(test_http__stream_to_dead_server_times_out),
	};
	int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);

	/* libcurl's global state, so that the sanitizer build reports no leak. */
	curl_global_cleanup();
	return failed;
}
