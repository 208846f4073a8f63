/*
 * Unit tests for agent/dddp.c: the parsing and error mapping of the
 * engine's answers (no network), then the client's rules against the
 * engine double (tests/doubles/dddp), started once on a free loopback
 * port and killed by pid at the end. Every wait is bounded; without
 * /usr/bin/python3 the tests that need the double are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dddp.h"
#include "double.h"
#include "error.h"
#include "timeutil.h"

#define DOUBLE DA_SOURCE_DIR "/tests/doubles/dddp/dddp_double.py"
#define PASSWORD "pw-\"quoted\"\\-5ecret"
#define WHAT "POST http://e/resources/json/delphix/x"

/* ---- parsing, no network ------------------------------------------------ */

/* An ErrorResult with all five APIError keys (§1.2); details, action and output are JSON. */
#define ERROR_RESULT(details, action, id, output)                                                 \
	"{\"type\":\"ErrorResult\",\"status\":\"ERROR\",\"error\":{\"type\":\"APIError\","        \
	"\"details\":" details ",\"action\":" action ",\"id\":\"" id "\",\"commandOutput\":" output \
	",\"diagnoses\":[]}}"

static int parse(struct dddp__answer *a, long status, const char *ctype, const char *body)
{
	return dddp__answer_parse(a, status, ctype, body, strlen(body), WHAT);
}

static void test_dddp__ok_and_list_results(void **state)
{
	struct dddp__answer a;

	(void)state;
	assert_int_equal(parse(&a, 200, "application/json",
			       "{\"type\":\"OKResult\",\"status\":\"OK\",\"result\":\"USER-2\","
			       "\"job\":null,\"action\":null}"), 0);
	assert_string_equal(json_string_value(json_object_get(a.root, "result")), "USER-2");
	dddp__answer_dispose(&a);
	assert_int_equal(parse(&a, 200, "application/json",
			       "  {\"type\":\"ListResult\",\"status\":\"OK\",\"result\":[],\"job\":null,"
			       "\"action\":null,\"total\":0,\"overflow\":false}"), 0);
	assert_true(json_is_array(json_object_get(a.root, "result")));
	dddp__answer_dispose(&a);
}

static void test_dddp__error_result_with_http_200(void **state)
{
	struct dddp__answer a;

	(void)state;
	/* §1.3: business errors come with HTTP 200 */
	assert_int_equal(parse(&a, 200, "application/json",
			       ERROR_RESULT("\"Job failed.\"", "\"Fix it.\"", "exception.x.y",
					    "\"line1\\nline2\"")), DA_ERROR);
	assert_null(a.root);
	assert_string_equal(a.error.id, "exception.x.y");
	assert_string_equal(a.error.details, "Job failed.");
	assert_string_equal(a.error.action, "Fix it.");
	assert_string_equal(a.error.command_output, "line1\nline2");
	assert_string_equal(error_last(), WHAT ": HTTP 200: engine error exception.x.y: Job failed. "
			    "(Fix it.); command output: line1 line2");
	dddp__answer_dispose(&a);
}

static void test_dddp__error_details_as_field_map(void **state)
{
	struct dddp__answer a;

	(void)state;
	assert_int_equal(parse(&a, 200, "application/json",
			       ERROR_RESULT("{\"name\":{\"type\":\"APIError\",\"details\":\"required\"}}",
					    "null", "exception.validation", "null")), DA_ERROR);
	assert_non_null(strstr(a.error.details, "\"name\""));
	assert_non_null(strstr(error_last(), "required"));
	assert_string_equal(a.error.action, "");
	dddp__answer_dispose(&a);
}

static void test_dddp__status_mapping(void **state)
{
	struct dddp__answer a;

	(void)state;
	assert_int_equal(parse(&a, 401, "application/json",
			       ERROR_RESULT("\"Invalid username or password.\"", "\"Try again.\"",
					    "exception.webservices.login.failed", "null")), DA_EAUTH);
	assert_false(a.session_gone);
	assert_non_null(strstr(error_last(), "HTTP 401"));
	dddp__answer_dispose(&a);

	assert_int_equal(parse(&a, 403, "text/html;charset=utf-8",
			       "<html><head><title>Delphix</title></head><body><p>Use /resources/json/"
			       "delphix/login to log in first</p></body></html>"), DA_EAUTH);
	assert_true(a.session_gone);
	assert_non_null(strstr(error_last(), "log in first"));
	dddp__answer_dispose(&a);

	assert_int_equal(parse(&a, 502, "text/html", "<html><h1>Bad Gateway</h1></html>"), DA_ERETRY);
	assert_true(a.booting);
	dddp__answer_dispose(&a);
	assert_int_equal(parse(&a, 200, "text/html", "<p>The engine is STARTING UP</p>"), DA_ERETRY);
	assert_true(a.booting);
	dddp__answer_dispose(&a);

	assert_int_equal(parse(&a, 404, "application/json",
			       ERROR_RESULT("\"gone\"", "null", "exception.executor.object.missing",
					    "null")), DA_ENOTFOUND);
	dddp__answer_dispose(&a);

	/* not the engine: a proxy's page, broken JSON, a missing or wrong status */
	assert_int_equal(parse(&a, 200, "text/html", "<html><title>Sign in</title></html>"), DA_ERROR);
	assert_non_null(strstr(error_last(), "not an answer of the engine's API"));
	assert_non_null(strstr(error_last(), "Sign in"));
	dddp__answer_dispose(&a);
	assert_int_equal(parse(&a, 200, "application/json", "{\"type\":\"OKResult\",\"sta"), DA_ERROR);
	assert_non_null(strstr(error_last(), "bad JSON"));
	dddp__answer_dispose(&a);
	assert_int_equal(parse(&a, 200, "application/json", "{\"type\":\"OKResult\",\"result\":1}"),
			 DA_ERROR);
	dddp__answer_dispose(&a);
	assert_int_equal(parse(&a, 500, "application/json",
			       "{\"type\":\"OKResult\",\"status\":\"OK\",\"result\":1}"), DA_ERROR);
	dddp__answer_dispose(&a);
	assert_int_equal(parse(&a, 200, "application/json", "{\"type\":\"Job\",\"status\":\"OK\"}"),
			 DA_ERROR);
	dddp__answer_dispose(&a);
}

static void test_dddp__cookie_shapes(void **state)
{
	char c[64];

	(void)state;
	assert_int_equal(dddp__cookie_parse(c, sizeof(c), " JSESSIONID=8F07A721; Path=/resources; HttpOnly"), 0);
	assert_string_equal(c, "8F07A721");
	assert_int_equal(dddp__cookie_parse(c, sizeof(c), "JSESSIONID=ABC"), 0);
	assert_string_equal(c, "ABC");
	assert_int_equal(dddp__cookie_parse(c, sizeof(c), "other=1; JSESSIONID=ABC"), DA_ENOTFOUND);
	assert_int_equal(dddp__cookie_parse(c, sizeof(c), "JSESSIONID=; Path=/"), DA_ENOTFOUND);
	assert_int_equal(dddp__cookie_parse(c, 4, "JSESSIONID=TOOLONG"), DA_ENOTFOUND);
}

static void test_dddp__job_parse(void **state)
{
	struct dddp_job j;
	json_t *job = json_loads(
		"{\"type\":\"Job\",\"reference\":\"JOB-7\",\"actionType\":\"DB_REFRESH\","
		"\"title\":\"Refresh\",\"targetName\":\"MM\",\"jobState\":\"FAILED\","
		"\"parentActionState\":\"FAILED\",\"percentComplete\":80,"
		"\"events\":[{\"eventType\":\"INFO\",\"messageDetails\":\"started\"},"
		"{\"eventType\":\"ERROR\",\"messageCode\":\"e.hook\",\"messageDetails\":\"hook failed\","
		"\"messageAction\":\"look\",\"messageCommandOutput\":\"out\"},"
		"{\"eventType\":\"WARNING\",\"messageCode\":\"w\",\"messageDetails\":\"later warning\"}]}",
		0, NULL);

	(void)state;
	memset(&j, 0, sizeof(j));
	assert_non_null(job);
	assert_int_equal(dddp__job_parse(&j, job), 0);
	assert_string_equal(j.ref, "JOB-7");
	assert_string_equal(j.state, "FAILED");
	assert_string_equal(j.parent_state, "FAILED");
	assert_true(j.percent == 80.0);
	/* the ERROR event wins over a later WARNING; the newest message is kept apart */
	assert_string_equal(j.event_type, "ERROR");
	assert_string_equal(j.event_details, "hook failed");
	assert_string_equal(j.event_output, "out");
	assert_string_equal(j.last_message, "later warning");
	json_object_set_new(job, "percentComplete", json_real(35.5));
	json_object_set_new(job, "events", json_null()); /* list results carry no events */
	assert_int_equal(dddp__job_parse(&j, job), 0);
	assert_true(j.percent == 35.5);
	json_object_set_new(job, "type", json_string("Action"));
	assert_int_equal(dddp__job_parse(&j, job), DA_ERROR);
	dddp_job_dispose(&j);
	json_decref(job);
}

static void test_dddp__json_quote(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(dddp__json_quote(&b, "a\"b\\c\n\x01"), 0);
	assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\u000a\\u0001\"");
	buf_dispose(&b);
}

static void test_dddp__new_refuses_bad_input_without_echoing_the_password(void **state)
{
	struct dddp_opts o = DDDP_OPTS_INIT;
	struct dddp *d = (struct dddp *)1;

	(void)state;
	o.url = "https://admin:" PASSWORD "@engine";
	o.user = "admin";
	o.password = PASSWORD;
	assert_int_equal(dddp_new(&d, &o), DA_EINVALID);
	assert_null(d);
	assert_null(strstr(error_last(), PASSWORD));
	assert_non_null(strstr(error_last(), "must not carry credentials"));
	o.url = "ftp://engine";
	assert_int_equal(dddp_new(&d, &o), DA_EINVALID);
	assert_non_null(strstr(error_last(), "'ftp://engine' is not an http:// or https:// URL"));
	o.url = "https://engine";
	o.password = "";
	assert_int_equal(dddp_new(&d, &o), DA_EINVALID);
	assert_non_null(strstr(error_last(), "password_file"));
	o.password = PASSWORD;
	assert_int_equal(dddp_new(&d, &o), 0);
	assert_string_equal(dddp_api_version(d), "");
	dddp_free(d);
}

/* ---- against the engine double ------------------------------------------- */

static struct test_double dd;

static int group_setup(void **state)
{
	static const char *const args[] = { "--password-file", NULL, "--job-duration", "0.3", NULL };
	const char *argv[5];
	char pwfile[128];
	FILE *f;
	int rc;

	(void)state;
	if (double_prepare(&dd, "test_dddp") != 0)
		return -1;
	snprintf(pwfile, sizeof(pwfile), "%s/pw", dd.dir);
	f = fopen(pwfile, "w");
	if (!f)
		return -1;
	fputs(PASSWORD "\n", f);
	fclose(f);
	memcpy(argv, args, sizeof(argv));
	argv[1] = pwfile;
	rc = double_start(&dd, DOUBLE, argv);
	return rc > 0 ? 0 : rc; /* no python: the tests that need the double skip() */
}

static int group_teardown(void **state)
{
	(void)state;
	double_stop(&dd);
	return 0;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* POST a control endpoint of the double. */
static void control(const char *what, const char *json)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	long status = 0;

	snprintf(url, sizeof(url), "%s/_double/%s", dd.url, what);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 200);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
}

static int notes;

static void count_note(const char *msg, void *payload)
{
	(void)msg;
	(void)payload;
	notes++;
}

/* Every client below records the percentage of each job event it is told. */
static double seen_pct[32];
static size_t seen_events;

static void record_event(const struct dddp_job *job, double percent, const char *message,
			 void *payload)
{
	(void)job;
	(void)payload;
	if (*message && seen_events < sizeof(seen_pct) / sizeof(seen_pct[0]))
		seen_pct[seen_events] = percent;
	if (*message)
		seen_events++;
}

static struct dddp *client(const char *password, int cancel_fd)
{
	struct dddp_opts o = DDDP_OPTS_INIT;
	struct dddp *d = NULL;

	o.url = dd.url;
	o.user = "delphix_admin";
	o.password = password;
	o.cancel_fd = cancel_fd;
	o.boot_wait_ms = 3000;
	o.busy_wait_ms = 1500;
	o.poll_max_ms = 300;
	o.note = count_note;
	o.progress = record_event;
	assert_int_equal(dddp_new(&d, &o), 0);
	return d;
}

#define NEED_DOUBLE() do { if (dd.pid <= 0) skip(); control("faults", "{}"); \
	control("mode", "{\"max_version\": \"1.11.9\"}"); } while (0)

static void test_dddp__login_and_lookup(void **state)
{
	struct dddp *d;
	json_t *obj = NULL;

	(void)state;
	NEED_DOUBLE();
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_find(d, &obj, "database", "database", "Patients Masked Master"), 0);
	assert_string_equal(json_string_value(json_object_get(obj, "type")), "AppDataContainer");
	json_decref(obj);
	assert_int_equal(dddp_login_count(d), 1);
	assert_string_equal(dddp_api_version(d), "1.10.0");
	assert_string_equal(dddp_namespace(d), "selfservice");
	assert_int_equal(dddp_find(d, &obj, "database", "database", "Nope"), DA_ENOTFOUND);
	assert_null(obj);
	assert_non_null(strstr(error_last(), "no database named 'Nope'"));
	assert_non_null(strstr(error_last(), "'Patients Prod'"));
	dddp_free(d);
}

static void test_dddp__bad_password_is_one_attempt(void **state)
{
	struct dddp *d;
	struct dddp_job job;

	(void)state;
	NEED_DOUBLE();
	d = client("wrong-" PASSWORD, -1);
	assert_int_equal(dddp_sync(d, &job, "Patients Prod", 0), DA_EAUTH);
	assert_int_equal(dddp_login_count(d), 1);
	assert_non_null(strstr(error_last(), "login as 'delphix_admin' refused"));
	assert_null(strstr(error_last(), PASSWORD));
	assert_non_null(dddp_last_error(d));
	assert_string_equal(dddp_last_error(d)->id, "exception.webservices.login.failed");
	assert_string_equal(job.state, ""); /* no job was started */
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__expired_session_one_relogin(void **state)
{
	struct dddp *d;
	json_t *obj = NULL;

	(void)state;
	NEED_DOUBLE();
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_login(d), 0);
	control("faults", "{\"expire_at_request\": 1}");
	notes = 0;
	assert_int_equal(dddp_find(d, &obj, "selfservice/template", "template", "Patients"), 0);
	json_decref(obj);
	assert_int_equal(dddp_login_count(d), 2);
	assert_int_equal(notes, 1);
	dddp_free(d);
}

static void test_dddp__sync_waits_for_the_job(void **state)
{
	struct dddp *d;
	struct dddp_job job;

	(void)state;
	NEED_DOUBLE();
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_sync(d, &job, "Patients Prod", time_mono_ms() + 10000), 0);
	assert_string_equal(job.state, "COMPLETED");
	assert_string_equal(job.action_type, "DB_SYNC");
	assert_true(job.percent == 100.0);
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__progress_tells_each_event_once(void **state)
{
	struct dddp *d;
	struct dddp_job job;
	/* the double's job: started at 0 %, four steps (--job-steps 5), completed at 100 % */
	static const double want[] = { 0, 20, 40, 60, 80, 100 };

	(void)state;
	NEED_DOUBLE();
	d = client(PASSWORD, -1);
	seen_events = 0;
	assert_int_equal(dddp_sync(d, &job, "Patients Prod", time_mono_ms() + 10000), 0);
	assert_int_equal(seen_events, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < seen_events; i++)
		assert_true(seen_pct[i] == want[i]);
	assert_string_equal(job.last_message, "DB_SYNC job for \"Prod/Patients Prod\" completed successfully.");
	assert_string_equal(job.title, "Run SnapSync for database \"Patients Prod\".");
	assert_string_equal(job.event_type, "");
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__failed_job_carries_the_engine_error(void **state)
{
	struct dddp *d;
	struct dddp_job job;

	(void)state;
	NEED_DOUBLE();
	control("faults", "{\"fail_masking\": true}");
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_refresh(d, &job, "Patients Masked Master", time_mono_ms() + 10000),
			 DA_ERROR);
	assert_string_equal(job.state, "FAILED");
	assert_non_null(strstr(error_last(), "refresh of 'Patients Masked Master': JOB-"));
	assert_non_null(strstr(error_last(), "Masking Job"));
	assert_non_null(strstr(error_last(), "command output: masking execution"));
	dddp_job_dispose(&job);
	assert_int_equal(dddp_refresh(d, &job, "Patients Prod", 0), DA_EINVALID);
	assert_non_null(strstr(error_last(), "refresh of 'Patients Prod': 'Patients Prod' (APPDATA_CONTAINER-"));
	assert_non_null(strstr(error_last(), "is a dSource"));
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__deadline_cancels_the_job(void **state)
{
	struct dddp *d;
	struct dddp_job job;

	(void)state;
	NEED_DOUBLE();
	control("faults", "{\"slow\": {\"Patients Prod\": 30}}");
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_sync(d, &job, "Patients Prod", time_mono_ms() + 500), DA_ETIMEOUT);
	assert_non_null(strstr(error_last(), "when the step's time ran out"));
	assert_string_equal(job.state, "RUNNING");
	dddp_job_dispose(&job);
	/* the engine cancelled it: nothing runs on the dSource any more */
	control("faults", "{\"conflict\": true}");
	assert_int_equal(dddp_sync(d, &job, "Patients Prod", time_mono_ms() + 10000), 0);
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__suspended_job_is_waited_for_within_the_deadline(void **state)
{
	struct dddp *d;
	struct dddp_job job;
	json_t *ans = NULL;
	char path[96];

	(void)state;
	NEED_DOUBLE();
	control("faults", "{\"suspend\": {\"Patients Prod\": 0.5, \"prep2\": 30}}");
	d = client(PASSWORD, -1);
	/* §4: SUSPENDED (parentActionState WAITING) is not an end: the job runs on and completes */
	assert_int_equal(dddp_sync(d, &job, "Patients Prod", time_mono_ms() + 10000), 0);
	assert_string_equal(job.state, "COMPLETED");
	dddp_job_dispose(&job);
	/* ... but only within the step's deadline, after which the job is cancelled */
	assert_int_equal(dddp_container_refresh(d, &job, NULL, "Patients", "prep2", false,
						time_mono_ms() + 800), DA_ETIMEOUT);
	assert_non_null(strstr(error_last(), "still SUSPENDED"));
	assert_string_equal(job.parent_state, "WAITING");
	snprintf(path, sizeof(path), "job/%s", job.ref);
	assert_int_equal(dddp_call(d, &ans, "GET", path, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(ans, "result"),
							      "jobState")), "CANCELED");
	json_decref(ans);
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__offline_or_inconsistent_pod_is_brought_online_first(void **state)
{
	static const char *const pods[] = { "prep3", "prep4" };
	struct dddp_bookmark_opts bo = { "Patients", "prep3", "after enable", NULL, true };
	struct dddp *d;
	struct dddp_job job;
	json_t *obj = NULL;
	char *ref = NULL;

	(void)state;
	NEED_DOUBLE();
	control("set", "{\"name\": \"prep3\", \"values\": {\"state\": \"OFFLINE\"}}");
	control("set", "{\"name\": \"prep4\", \"values\": {\"state\": \"INCONSISTENT\"}}");
	d = client(PASSWORD, -1);
	notes = 0;
	/* §3.3: OFFLINE is enabled, INCONSISTENT recovered, before the bookmark or the refresh */
	assert_int_equal(dddp_bookmark(d, &job, &ref, &bo, time_mono_ms() + 10000), 0);
	assert_non_null(ref);
	free(ref);
	dddp_job_dispose(&job);
	assert_int_equal(dddp_container_refresh(d, &job, NULL, "Patients", "prep4", false,
						time_mono_ms() + 10000), 0);
	assert_string_equal(job.action_type, "JETSTREAM_USER_CONTAINER_REFRESH");
	dddp_job_dispose(&job);
	assert_int_equal(notes, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(dddp_find(d, &obj, "selfservice/container", "data container", pods[i]), 0);
		assert_string_equal(json_string_value(json_object_get(obj, "state")), "ONLINE");
		json_decref(obj);
	}
	dddp_free(d);
}

static void test_dddp__cancel_fd_stops_the_wait(void **state)
{
	struct dddp *d;
	struct dddp_job job;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t one = 1, t0;

	(void)state;
	NEED_DOUBLE();
	assert_true(fd >= 0);
	control("faults", "{\"slow\": {\"prep1\": 30}}");
	d = client(PASSWORD, fd);
	assert_int_equal(dddp_login(d), 0);
	assert_int_equal(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	t0 = time_mono_ms();
	assert_int_equal(dddp_container_refresh(d, &job, NULL, "Patients", "prep1", false,
						time_mono_ms() + 20000), DA_ECANCELLED);
	assert_true(time_mono_ms() - t0 < 10000);
	assert_non_null(strstr(error_last(), "stopped on request"));
	dddp_job_dispose(&job);
	dddp_free(d);
	close(fd);
	/* the engine cancelled the 30 s job: prep1 is free at once for another client */
	control("faults", "{}");
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_container_refresh(d, &job, NULL, "Patients", "prep1", false,
						time_mono_ms() + 10000), 0);
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__busy_target_waits_with_a_bound(void **state)
{
	struct dddp *d;
	struct dddp_job job;

	(void)state;
	NEED_DOUBLE();
	control("faults", "{\"busy\": {\"prep5\": 20}}");
	d = client(PASSWORD, -1);
	notes = 0;
	assert_int_equal(dddp_container_refresh(d, &job, NULL, "Patients", "prep5", false,
						time_mono_ms() + 10000), DA_ECONFLICT);
	assert_non_null(strstr(error_last(), "'prep5' (JS_DATA_CONTAINER-"));
	assert_non_null(strstr(error_last(), ") is busy: JOB-"));
	assert_true(notes >= 1);
	dddp_job_dispose(&job);
	dddp_free(d);
}

static void test_dddp__booting_engine_waits_with_a_bound(void **state)
{
	struct dddp *d;
	json_t *obj = NULL;

	(void)state;
	NEED_DOUBLE();
	control("boot", "{\"seconds\": 60}");
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_login(d), DA_ERETRY);
	assert_non_null(strstr(error_last(), "stayed unreachable or booting for 3 s"));
	control("boot", "{\"seconds\": 0.5}");
	assert_int_equal(dddp_find(d, &obj, "group", "group", "Prod"), 0);
	json_decref(obj);
	dddp_free(d);
}

static void test_dddp__unreachable_engine(void **state)
{
	struct dddp_opts o = DDDP_OPTS_INIT;
	struct dddp *d = NULL;

	(void)state;
	o.url = "http://127.0.0.1:1";
	o.user = "u";
	o.password = "p";
	o.boot_wait_ms = 800;
	assert_int_equal(dddp_new(&d, &o), 0);
	assert_int_equal(dddp_login(d), DA_ERETRY);
	assert_non_null(strstr(error_last(), "cannot connect"));
	dddp_free(d);
}

static void test_dddp__old_engine_negotiates_down(void **state)
{
	struct dddp *d;
	struct dddp_job job;
	char *ref = NULL;
	const char *tags[] = { "a", "b", NULL };
	struct dddp_bookmark_opts bo = { "Patients", "prep6", "unit bookmark", tags, true };

	(void)state;
	NEED_DOUBLE();
	control("mode", "{\"max_version\": \"1.8.0\"}");
	d = client(PASSWORD, -1);
	assert_int_equal(dddp_bookmark(d, &job, &ref, &bo, time_mono_ms() + 10000), 0);
	assert_string_equal(dddp_api_version(d), "1.8.0");
	assert_string_equal(dddp_namespace(d), "jetstream");
	assert_non_null(ref);
	assert_int_equal(strncmp(ref, "JS_BOOKMARK-", 12), 0);
	free(ref);
	dddp_job_dispose(&job);
	dddp_free(d);
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_dddp__ok_and_list_results),
		cmocka_unit_test(test_dddp__error_result_with_http_200),
		cmocka_unit_test(test_dddp__error_details_as_field_map),
		cmocka_unit_test(test_dddp__status_mapping),
		cmocka_unit_test(test_dddp__cookie_shapes),
		cmocka_unit_test(test_dddp__job_parse),
		cmocka_unit_test(test_dddp__json_quote),
		cmocka_unit_test(test_dddp__new_refuses_bad_input_without_echoing_the_password),
		cmocka_unit_test(test_dddp__unreachable_engine),
	};
	const struct CMUnitTest online[] = {
		cmocka_unit_test(test_dddp__login_and_lookup),
		cmocka_unit_test(test_dddp__bad_password_is_one_attempt),
		cmocka_unit_test(test_dddp__expired_session_one_relogin),
		cmocka_unit_test(test_dddp__sync_waits_for_the_job),
		cmocka_unit_test(test_dddp__progress_tells_each_event_once),
		cmocka_unit_test(test_dddp__failed_job_carries_the_engine_error),
		cmocka_unit_test(test_dddp__deadline_cancels_the_job),
		cmocka_unit_test(test_dddp__suspended_job_is_waited_for_within_the_deadline),
		cmocka_unit_test(test_dddp__offline_or_inconsistent_pod_is_brought_online_first),
		cmocka_unit_test(test_dddp__cancel_fd_stops_the_wait),
		cmocka_unit_test(test_dddp__busy_target_waits_with_a_bound),
		cmocka_unit_test(test_dddp__booting_engine_waits_with_a_bound),
		cmocka_unit_test(test_dddp__old_engine_negotiates_down),
	};
	int failed = cmocka_run_group_tests_name("dddp offline", offline, NULL, NULL);

	failed += cmocka_run_group_tests_name("dddp against the double", online, group_setup,
					      group_teardown);
	return failed;
}
