/*
 * Unit tests for the pure parts of agent/sync.c: the config.xml of folders,
 * trigger jobs, -runs jobs; the comparison of managed fields, which must
 * not see Jenkins' re-serialization as a change; and the merge that keeps
 * what sync does not manage. The calls to Jenkins run against the double in
 * tests/integration/test_sync.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sync.h"

static char *choices[] = { "create", "update", "delete", NULL };

static struct catalog_param params[] = {
	{ .name = "github_release_tag", .default_value = "release-2.8.0",
	  .description = "Tag to check out", .is_ref = true },
	{ .name = "topic_action", .default_value = "update", .description = "What to do",
	  .choices = choices },
	{ .name = "vault_token", .default_value = "", .description = "a secret", .secret = true },
};

static struct catalog_operation op = {
	.file = "kafka-setup.xml",
	.path = "Deploy/{env}/DataPipeline/KafkaSetup",
	.name = "KafkaSetup",
	.display_name = "Kafka Setup",
	.function = "Setup kafka for pipeline",
	.description = "Creates topics & <configs>",
	.params = params,
	.param_count = 3,
};

static const struct sync_job_spec spec = { &op, "Deploy/dev/DataPipeline/KafkaSetup",
					   "dataops-agent" };

/* s with the first occurrence of from replaced by to (new string). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n;
	char *out;

	assert_non_null(at);
	n = strlen(s) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, s, (size_t)(at - s));
	strcpy(out + (at - s), to);
	strcat(out, at + strlen(from));
	return out;
}

/* The diff of want and have: NULL when unchanged; aborts the test on an error. */
static char *diff(const char *want, const char *have)
{
	char *why = NULL;

	assert_int_equal(sync_config_diff(&why, want, have, strlen(have)), 0);
	return why;
}

static void test_sync__trigger_job_config(void **state)
{
	char *x = sync_trigger_xml(&spec);

	(void)state;
	assert_non_null(strstr(x, "<project>"));
	assert_non_null(strstr(x, "<assignedNode>dataops-agent</assignedNode>"));
	assert_non_null(strstr(x, "<canRoam>false</canRoam>"));
	assert_non_null(strstr(x, "<quietPeriod>0</quietPeriod>"));
	assert_non_null(strstr(x, "<concurrentBuild>true</concurrentBuild>"));
	assert_non_null(strstr(x, "<displayName>Kafka Setup</displayName>"));
	assert_non_null(strstr(x, "<hudson.tasks.Shell>"));
	assert_non_null(strstr(x, "must be claimed by a dataops-agent"));
	assert_non_null(strstr(x, "exit 1</command>"));
	/* The catalog's texts, escaped; the link to the runs job. */
	assert_non_null(strstr(x, "Creates topics &amp; &lt;configs&gt;"));
	assert_non_null(strstr(x, "&lt;a href=&quot;../KafkaSetup-runs/&quot;&gt;KafkaSetup-runs&lt;/a&gt;"));
	/* Parameters: the string one, the choice with its default first, never the secret. */
	assert_non_null(strstr(x, "<name>github_release_tag</name>"));
	assert_non_null(strstr(x, "<defaultValue>release-2.8.0</defaultValue>"));
	assert_non_null(strstr(x, "<hudson.model.ChoiceParameterDefinition>"));
	assert_true(strstr(x, "<string>update</string>") < strstr(x, "<string>create</string>"));
	assert_true(strstr(x, "<string>create</string>") < strstr(x, "<string>delete</string>"));
	assert_null(strstr(x, "vault_token"));
	/* It is what sync compares against: no difference with itself. */
	assert_null(diff(x, x));
	free(x);
}

static void test_sync__label_expression_quoted_when_not_an_atom(void **state)
{
	struct sync_job_spec s = spec;
	char *x;

	(void)state;
	s.label = "dataops&&agent";
	x = sync_trigger_xml(&s);
	assert_non_null(strstr(x, "<assignedNode>&quot;dataops&amp;&amp;agent&quot;</assignedNode>"));
	free(x);
}

static void test_sync__no_display_name_when_it_is_the_name(void **state)
{
	struct catalog_operation o = op;
	struct sync_job_spec s = spec;
	char *x, *r;

	(void)state;
	o.display_name = "KafkaSetup";
	o.param_count = 0;
	s.op = &o;
	x = sync_trigger_xml(&s);
	r = sync_runs_xml(&s);
	assert_null(strstr(x, "<displayName>"));
	assert_null(strstr(r, "<displayName>"));
	/* Without parameters of its own, a trigger job still takes cancel requests. */
	assert_non_null(strstr(x, "<name>cancel_queue_id</name>"));
	assert_null(strstr(x, "github_release_tag"));
	free(x);
	free(r);
}

static void test_sync__runs_job_and_folder_config(void **state)
{
	char *r = sync_runs_xml(&spec);
	char *f = sync_folder_xml("Deploy/dev");

	(void)state;
	assert_non_null(strstr(r, "<hudson.model.ExternalJob>"));
	assert_non_null(strstr(r, "<displayName>Kafka Setup runs</displayName>"));
	assert_non_null(strstr(r, "&lt;a href=&quot;../KafkaSetup/&quot;&gt;"));
	assert_non_null(strstr(r, "Deploy/dev/DataPipeline/KafkaSetup"));
	assert_non_null(strstr(f, "<com.cloudbees.hudson.plugins.folder.Folder>"));
	assert_null(diff(r, r));
	free(r);
	free(f);
}

/* What Jenkins sends back for a trigger job we posted: same fields, its own serialization. */
static const char jenkins_trigger[] =
	"<?xml version='1.1' encoding='UTF-8'?>\n"
	"<project plugin=\"x@1\">\r\n"
	"<actions></actions>\n"
	"<description>Setup kafka for pipeline\nCreates topics &amp; &lt;configs&gt;\n\n"
	"Build with Parameters queues a run of Deploy/dev/DataPipeline/KafkaSetup for a "
	"dataops-agent (label dataops-agent), which claims it and records it, with its live log, "
	"in &lt;a href=\"../KafkaSetup-runs/\"&gt;KafkaSetup-runs&lt;/a&gt;.\n"
	"Managed by dataops-agent sync: changes made here are overwritten.</description>"
	"<displayName>Kafka Setup</displayName>"
	"<keepDependencies>false</keepDependencies>"
	"<properties>"
	"<jenkins.model.BuildDiscarderProperty><strategy class=\"hudson.tasks.LogRotator\">"
	"<daysToKeep>30</daysToKeep></strategy></jenkins.model.BuildDiscarderProperty>"
	"<hudson.model.ParametersDefinitionProperty><parameterDefinitions>"
	"<hudson.model.StringParameterDefinition><name>github_release_tag</name>"
	"<description>Tag to check out</description><defaultValue>release-2.8.0</defaultValue>"
	"<trim>true</trim></hudson.model.StringParameterDefinition>"
	"<hudson.model.ChoiceParameterDefinition><name>topic_action</name>"
	"<description>What to do</description><choices>"
	"<string>update</string><string>create</string><string>delete</string>"
	"</choices></hudson.model.ChoiceParameterDefinition>"
	"<hudson.model.StringParameterDefinition><name>cancel_queue_id</name>"
	"<description>To cancel a run of this job instead of starting one: its queue id, the "
	"number after # in the run&apos;s name in the runs job. Leave it empty to run the job."
	"</description><defaultValue></defaultValue>"
	"<trim>true</trim></hudson.model.StringParameterDefinition>"
	"</parameterDefinitions></hudson.model.ParametersDefinitionProperty>"
	"</properties>"
	"<scm class=\"hudson.scm.NullSCM\"/>"
	"<quietPeriod>0</quietPeriod><canRoam>false</canRoam>"
	"<assignedNode>dataops-agent</assignedNode>"
	"<disabled>true</disabled>"
	"<blockBuildWhenDownstreamBuilding>false</blockBuildWhenDownstreamBuilding>"
	"<blockBuildWhenUpstreamBuilding>false</blockBuildWhenUpstreamBuilding>"
	"<jdk>(System)</jdk>"
	"<triggers/><concurrentBuild>true</concurrentBuild>"
	"<builders><hudson.tasks.Shell><command>echo 'This job must be claimed by a dataops-agent; "
	"a Jenkins executor took it by mistake, so it fails here.' &gt;&amp;2\nexit 1</command>"
	"<configuredLocalRules/></hudson.tasks.Shell></builders>"
	"<publishers/><buildWrappers/></project>";

static void test_sync__jenkins_serialization_is_no_change(void **state)
{
	char *want = sync_trigger_xml(&spec);

	(void)state;
	assert_null(diff(want, jenkins_trigger));
	free(want);
}

/* have with up to two replacements made (from2 NULL: one); new string. */
static char *edit(const char *have, const char *from, const char *to, const char *from2,
		  const char *to2)
{
	char *once = replace(have, from, to), *twice;

	if (from2 == NULL)
		return once;
	twice = replace(once, from2, to2);
	free(once);
	return twice;
}

/* Edit have as edit() does; the diff with want must name exactly why. */
static void assert_reasons(const char *want, const char *have, const char *from, const char *to,
			   const char *from2, const char *to2, const char *why)
{
	char *edited = edit(have, from, to, from2, to2);
	char *got = diff(want, edited);

	assert_non_null(got);
	assert_string_equal(got, why);
	free(got);
	free(edited);
}

static void test_sync__differences_are_named(void **state)
{
	static const struct {
		const char *from, *to, *from2, *to2, *why;
	} cases[] = {
		{ "<defaultValue>release-2.8.0", "<defaultValue>release-2.7.0", NULL, NULL,
		  "parameters" },
		/* Choices in another order are a change: the first is Jenkins' default. */
		{ "<string>update</string><string>create</string>",
		  "<string>create</string><string>update</string>", NULL, NULL, "parameters" },
		/* Two fields, one reason. */
		{ "<assignedNode>dataops-agent", "<assignedNode>other", "<canRoam>false",
		  "<canRoam>true", "label" },
		{ "<concurrentBuild>true", "<concurrentBuild>false", "<description>Setup",
		  "<description>Set up", "description, concurrent builds" },
		{ "exit 1</command>", "exit 0</command>", NULL, NULL, "guard" },
		{ "<quietPeriod>0</quietPeriod>", "", NULL, NULL, "quiet period" },
	};
	char *want = sync_trigger_xml(&spec);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_reasons(want, jenkins_trigger, cases[i].from, cases[i].to, cases[i].from2,
			       cases[i].to2, cases[i].why);
	free(want);
}

static void test_sync__another_kind_is_a_conflict(void **state)
{
	char *want = sync_runs_xml(&spec), *why = NULL;
	const char *have = "<project><description>x</description></project>";

	(void)state;
	assert_int_equal(sync_config_diff(&why, want, have, strlen(have)), DA_ECONFLICT);
	assert_null(why);
	assert_non_null(strstr(error_last(), "it is a FreeStyle project (<project>), not an External Job"));
	free(want);
}

static void test_sync__bad_answers_are_refused(void **state)
{
	char *want = sync_runs_xml(&spec), *why = NULL;
	const char *broken = "<hudson.model.ExternalJob><description>x</hudson.model.ExternalJob>";
	const char *doctype =
		"<?xml version='1.0'?>\n<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n"
		"<hudson.model.ExternalJob><description>&e;</description></hudson.model.ExternalJob>";

	(void)state;
	assert_int_equal(sync_config_diff(&why, want, broken, strlen(broken)), DA_EINVALID);
	assert_non_null(strstr(error_last(), "Jenkins' config.xml is not well-formed XML"));
	assert_int_equal(sync_config_diff(&why, want, doctype, strlen(doctype)), DA_EINVALID);
	assert_non_null(strstr(error_last(), "DOCTYPE"));
	assert_int_equal(sync_config_diff(&why, want, "", 0), DA_EINVALID);
	assert_null(why);
	free(want);
}

static void test_sync__merge_keeps_what_sync_does_not_manage(void **state)
{
	char *want = sync_trigger_xml(&spec), *merged = NULL;
	char *have = replace(jenkins_trigger, "<defaultValue>release-2.8.0", "<defaultValue>old");

	(void)state;
	assert_int_equal(sync_config_merge(&merged, want, have, strlen(have)), 0);
	/* Ours where we manage it; theirs where we do not. */
	assert_null(diff(want, merged));
	assert_non_null(strstr(merged, "release-2.8.0"));
	assert_null(strstr(merged, "<defaultValue>old"));
	assert_non_null(strstr(merged, "<jenkins.model.BuildDiscarderProperty>"));
	assert_non_null(strstr(merged, "<disabled>true</disabled>"));
	/* One parameters property: Jenkins' copy is replaced, not kept beside ours. */
	assert_null(strstr(strstr(merged, "ParametersDefinitionProperty>") + 1,
			   "<hudson.model.ParametersDefinitionProperty>"));
	free(merged);
	free(have);
	free(want);
}

static const char node_want[] =
	"<?xml version='1.1' encoding='UTF-8'?>\n<slave>\n  <name>n1</name>\n"
	"  <description>dataops-agent 0.1.0 on h</description>\n  <remoteFS>/var/lib/x</remoteFS>\n"
	"  <numExecutors>2</numExecutors>\n  <mode>EXCLUSIVE</mode>\n"
	"  <retentionStrategy class=\"hudson.slaves.RetentionStrategy$Always\"/>\n"
	"  <launcher class=\"hudson.slaves.JNLPLauncher\"/>\n"
	"  <label>dataops-agent data-hosts</label>\n  <nodeProperties/>\n</slave>\n";

static const char node_have[] =
	"<?xml version='1.1' encoding='UTF-8'?>\n<slave>\n  <name>n1</name>\n"
	"  <description>dataops-agent 0.1.0 on h</description>\n  <remoteFS>/var/lib/x</remoteFS>\n"
	"  <numExecutors>2</numExecutors>\n  <mode>EXCLUSIVE</mode>\n"
	"  <retentionStrategy class=\"hudson.slaves.RetentionStrategy$Always\"/>\n"
	"  <launcher class=\"hudson.slaves.JNLPLauncher\">\n    <workDirSettings><disabled>true"
	"</disabled></workDirSettings>\n  </launcher>\n"
	"  <label>data-hosts  dataops-agent</label>\n"
	"  <nodeProperties><hudson.slaves.EnvironmentVariablesNodeProperty/></nodeProperties>\n"
	"  <temporaryOfflineCause class=\"hudson.slaves.OfflineCause$UserCause\">\n"
	"    <timestamp>1767000000000</timestamp><userId>agent</userId>\n"
	"  </temporaryOfflineCause>\n</slave>";

static void test_sync__node_compare_and_merge(void **state)
{
	char *have, *why, *merged = NULL;

	(void)state;
	/* Labels in another order, a launcher with settings, an offline cause: no change. */
	assert_null(diff(node_want, node_have));
	have = replace(node_have, "<numExecutors>2", "<numExecutors>1");
	why = diff(node_want, have);
	assert_string_equal(why, "executors");
	free(why);
	/* The update keeps the offline cause (>= 2.482 posting without it clears it) and the node properties. */
	assert_int_equal(sync_config_merge(&merged, node_want, have, strlen(have)), 0);
	assert_null(diff(node_want, merged));
	assert_non_null(strstr(merged, "<numExecutors>2</numExecutors>"));
	assert_non_null(strstr(merged, "<temporaryOfflineCause class=\"hudson.slaves.OfflineCause$UserCause\">"));
	assert_non_null(strstr(merged, "<userId>agent</userId>"));
	assert_non_null(strstr(merged, "<hudson.slaves.EnvironmentVariablesNodeProperty/>"));
	assert_null(strstr(merged, "<nodeProperties/>"));
	free(merged);
	free(have);
	assert_reasons(node_want, node_have, "<label>data-hosts  dataops-agent", "<label>dataops-agent",
		       NULL, NULL, "labels");
}

static void test_sync__node_description(void **state)
{
	char *d = sync_node_description("host-1");

	(void)state;
	assert_string_equal(d, "dataops-agent " DA_VERSION " on host-1");
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync__trigger_job_config),
		cmocka_unit_test(test_sync__label_expression_quoted_when_not_an_atom),
		cmocka_unit_test(test_sync__no_display_name_when_it_is_the_name),
		cmocka_unit_test(test_sync__runs_job_and_folder_config),
		cmocka_unit_test(test_sync__jenkins_serialization_is_no_change),
		cmocka_unit_test(test_sync__differences_are_named),
		cmocka_unit_test(test_sync__another_kind_is_a_conflict),
		cmocka_unit_test(test_sync__bad_answers_are_refused),
		cmocka_unit_test(test_sync__merge_keeps_what_sync_does_not_manage),
		cmocka_unit_test(test_sync__node_compare_and_merge),
		cmocka_unit_test(test_sync__node_description),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
