/*
 * Unit tests for the parts of agent/jenkins.c that need no server: URL
 * paths of items, full names from task URLs, the queue answer and one
 * item's state. The calls themselves run against the Jenkins double in the
 * integration tests (test_agent_*.sh, test_sync.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jenkins.h"

static void test_jenkins__item_url_path_nests_and_encodes(void **state)
{
	static const struct { const char *full_name, *path; } cases[] = {
		{ "Deploy/dev/DataPipeline/Kafka", "/job/Deploy/job/dev/job/DataPipeline/job/Kafka" },
		{ "A b/c&d?e", "/job/A%20b/job/c%26d%3Fe" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = jenkins_item_url_path(cases[i].full_name);

		assert_string_equal(p, cases[i].path);
		free(p);
	}
}

static void test_jenkins__full_name_from_url(void **state)
{
	/* NULL: not a job URL, a bad escape, an escaped slash, a run URL, no scheme. */
	static const struct { const char *url, *full_name; } cases[] = {
		{ "http://j:8080/job/Deploy/job/dev/job/Kafka/", "Deploy/dev/Kafka" },
		{ "https://ci.example/jenkins/job/A%20b/job/c/", "A b/c" },
		{ "http://j/queue/item/4/", NULL },
		{ "http://j/job/A%2/", NULL },
		{ "http://j/job/A%2Fb/", NULL },
		{ "http://j/job/A/12/", NULL },
		{ "no-scheme/job/A/", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *n = jenkins_full_name_from_url(cases[i].url);

		if (cases[i].full_name == NULL) {
			assert_null(n);
		} else {
			assert_non_null(n);
			assert_string_equal(n, cases[i].full_name);
		}
		free(n);
	}
}

static const char queue_json[] =
	"{\"_class\":\"hudson.model.Queue\",\"discoverableItems\":[],\"items\":["
	"{\"_class\":\"hudson.model.Queue$BuildableItem\",\"id\":42,\"inQueueSince\":1767000000000,"
	" \"task\":{\"name\":\"Kafka\",\"fullName\":\"Provision/dev/DataPipeline/Kafka\","
	"  \"url\":\"http://j/job/Provision/job/dev/job/DataPipeline/job/Kafka/\"},"
	" \"actions\":[{\"_class\":\"hudson.model.ParametersAction\",\"parameters\":["
	"   {\"name\":\"github_release_tag\",\"value\":\"release-2.8.0\"},"
	"   {\"name\":\"dry_run\",\"value\":true},{\"name\":\"secret\",\"value\":null}]},"
	"  {},{\"_class\":\"hudson.model.CauseAction\",\"causes\":[{\"userId\":\"alice\",\"userName\":\"Alice\"}]}]},"
	"{\"id\":43,\"task\":{\"name\":\"x\",\"url\":\"http://j/job/Build/job/Secor/\"},\"actions\":[]},"
	"{\"id\":\"44\",\"task\":{\"fullName\":\"no-numeric-id\"}},"
	"{\"id\":45},"
	"{\"id\":46,\"task\":{\"fullName\":\"Build/X\"},\"actions\":[{\"parameters\":"
	"   [{\"name\":\"a=b\",\"value\":\"v\"},{\"name\":\"nul\",\"value\":\"a\\u0000b\"}]}]}"
	"]}";

static void test_jenkins__queue_parse_takes_items_params_and_user(void **state)
{
	struct jenkins_queue q;

	(void)state;
	assert_int_equal(jenkins_queue_parse(queue_json, strlen(queue_json), "queue", &q), 0);
	assert_int_equal(q.count, 3);
	assert_int_equal(q.items[0].id, 42);
	assert_string_equal(q.items[0].full_name, "Provision/dev/DataPipeline/Kafka");
	assert_string_equal(q.items[0].user, "alice");
	assert_int_equal(q.items[0].param_count, 2);
	assert_string_equal(q.items[0].params[0], "github_release_tag=release-2.8.0");
	assert_string_equal(q.items[0].params[1], "dry_run=true");
	assert_null(q.items[0].params[2]);
	assert_true(q.items[0].in_queue_since == 1767000000000LL);
	/* No fullName: taken from the task URL. */
	assert_string_equal(q.items[1].full_name, "Build/Secor");
	assert_null(q.items[1].user);
	assert_int_equal(q.items[1].param_count, 0);
	assert_non_null(q.items[1].params);
	/* Parameters that cannot be passed on whole are left out. */
	assert_int_equal(q.items[2].id, 46);
	assert_int_equal(q.items[2].param_count, 0);
	jenkins_queue_dispose(&q);
}

static void test_jenkins__queue_parse_refuses_what_is_not_a_queue(void **state)
{
	struct jenkins_queue q;
	const char *html = "<html><body>Please wait</body></html>";

	(void)state;
	assert_int_equal(jenkins_queue_parse(html, strlen(html), "GET /queue", &q), DA_EINVALID);
	assert_non_null(strstr(error_last(), "GET /queue: not JSON"));
	assert_int_equal(q.count, 0);
	assert_int_equal(jenkins_queue_parse("{\"items\":3}", 11, "q", &q), DA_EINVALID);
	assert_non_null(strstr(error_last(), "not a Jenkins queue"));
	assert_int_equal(jenkins_queue_parse("{\"items\":[]}", 12, "q", &q), 0);
	assert_int_equal(q.count, 0);
	jenkins_queue_dispose(&q);
}

static void test_jenkins__item_state(void **state)
{
	enum jenkins_item_state st;
	const char *queued = "{\"_class\":\"hudson.model.Queue$BuildableItem\",\"id\":4}";
	const char *cancelled = "{\"cancelled\":true,\"executable\":null}";
	const char *started = "{\"cancelled\":false,\"executable\":{\"number\":3}}";

	(void)state;
	assert_int_equal(jenkins_queue_item_state_parse(queued, strlen(queued), &st), 0);
	assert_int_equal(st, JENKINS_ITEM_QUEUED);
	assert_int_equal(jenkins_queue_item_state_parse(cancelled, strlen(cancelled), &st), 0);
	assert_int_equal(st, JENKINS_ITEM_CANCELLED);
	assert_int_equal(jenkins_queue_item_state_parse(started, strlen(started), &st), 0);
	assert_int_equal(st, JENKINS_ITEM_STARTED);
	assert_int_equal(jenkins_queue_item_state_parse("[]", 2, &st), DA_EINVALID);
}

static void test_jenkins__node_xml_escapes(void **state)
{
	struct jenkins_node_spec spec = { "n1", "a <b> & \"c\"", "dataops-agent x", 3, "/var/lib/d" };
	char *xml;

	(void)state;
	xml = jenkins_node_xml(&spec);
	assert_non_null(strstr(xml, "<description>a &lt;b&gt; &amp; &quot;c&quot;</description>"));
	assert_non_null(strstr(xml, "<numExecutors>3</numExecutors>"));
	assert_non_null(strstr(xml, "<mode>EXCLUSIVE</mode>"));
	assert_non_null(strstr(xml, "<label>dataops-agent x</label>"));
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jenkins__item_url_path_nests_and_encodes),
		cmocka_unit_test(test_jenkins__full_name_from_url),
		cmocka_unit_test(test_jenkins__queue_parse_takes_items_params_and_user),
		cmocka_unit_test(test_jenkins__queue_parse_refuses_what_is_not_a_queue),
		cmocka_unit_test(test_jenkins__item_state),
		cmocka_unit_test(test_jenkins__node_xml_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
