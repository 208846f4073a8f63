/* Unit tests for agent/catalog.c: the real jobs/ catalog and the loader's errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemastypes.h>

#include "catalog.h"
#include "error.h"
#include "tmpdir.h"

#define JOBS DA_SOURCE_DIR "/jobs"

/* ---- helpers ------------------------------------------------------------ */

/* A private directory for one catalog; removed with tmpdir_free. */
static char *make_dir(void)
{
	char *d = tmpdir_new("catalog");

	assert_non_null(d);
	return d;
}

static void write_file(const char *dir, const char *name, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load dir, which must load; the test fails with the loader's message if not. */
static struct catalog *load_ok(const char *dir)
{
	struct catalog *cat;

	if (catalog_load(&cat, dir) != 0)
		fail_msg("%s: %s", dir, error_last());
	return cat;
}

/*
 * Load dir, expect DA_EINVALID and a message holding "<file>:<line>:" and
 * the given words.
 */
static void expect_error(const char *dir, const char *file, int line, const char *words)
{
	struct catalog *cat = (struct catalog *)1;
	char where[256];
	int rc = catalog_load(&cat, dir);

	assert_int_equal(rc, DA_EINVALID);
	assert_null(cat);
	snprintf(where, sizeof(where), "/%s:%d: ", file, line);
	if (!strstr(error_last(), where) || (words && !strstr(error_last(), words)))
		fail_msg("expected \"%s\" and \"%s\" in:\n%s", where, words ? words : "",
			 error_last());
}

/* A catalog of one file, x.xml, holding doc: it fails at x.xml:line with words. */
static void expect_doc_error(const char *doc, int line, const char *words)
{
	char *dir = make_dir();

	write_file(dir, "x.xml", doc);
	expect_error(dir, "x.xml", line, words);
	tmpdir_free(dir);
}

/* One valid operation file around the given <steps> body. */
#define OP_HEAD "<?xml version=\"1.0\"?>\n<operation path=\"Build/X\">\n"

static const struct catalog_operation *must_find(const struct catalog *cat, const char *path)
{
	const struct catalog_operation *op = catalog_find(cat, path);

	if (!op)
		fail_msg("no operation %s", path);
	return op;
}

static size_t count_prefix(const struct catalog *cat, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < cat->op_count; i++)
		if (strncmp(cat->ops[i].path, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

static void assert_sequence(const struct catalog *cat, const char *name,
			    const char *prefix, const char *const *names)
{
	const struct catalog_sequence *seq = catalog_sequence_find(cat, name);
	size_t n = 0;

	assert_non_null(seq);
	for (; names[n]; n++) {
		char want[256];

		assert_true(n < seq->count);
		snprintf(want, sizeof(want), "%s%s", prefix, names[n]);
		assert_string_equal(seq->paths[n], want);
	}
	assert_int_equal(seq->count, n);
}

/* ---- the real catalog ----------------------------------------------------- */

static void test_catalog__real_catalog_has_every_operation(void **state)
{
	struct catalog *cat;
	const struct catalog_operation *op;

	(void)state;
	cat = load_ok(JOBS);
	assert_int_equal(count_prefix(cat, "Build/"), 7);
	assert_int_equal(count_prefix(cat, "Provision/{env}/DataPipeline/"), 9);
	assert_int_equal(count_prefix(cat, "Deploy/{env}/DataPipeline/"), 14);
	assert_int_equal(cat->op_count, 7 + 9 + 14 + 2);
	for (size_t i = 1; i < cat->op_count; i++)
		assert_true(strcmp(cat->ops[i - 1].path, cat->ops[i].path) < 0);

	assert_string_equal(must_find(cat, "Build/AnalyticsService")->display_name, "Analytics Service");
	assert_string_equal(must_find(cat, "Build/CoreDataProduct")->display_name, "Core Data Product");
	assert_string_equal(must_find(cat, "Build/Datapipeline")->display_name, "Data pipeline");
	assert_string_equal(must_find(cat, "Build/AnalyticsCore")->function, "Builds the analytics framework");
	assert_string_equal(catalog_ref_param(must_find(cat, "Build/Secor"))->default_value, "secor-0.25");
	assert_string_equal(catalog_ref_param(must_find(cat, "Build/ETLJobs"))->name, "github_release_tag");
	assert_string_equal(catalog_ref_param(must_find(cat, "Build/ETLJobs"))->default_value, "release-2.8.0");

	op = must_find(cat, "OpsAdministration/{env}/DataPipeline/Bootstrap");
	assert_string_equal(op->display_name, "Bootstrap");
	assert_string_equal(op->function, "Creates Deployer User");
	assert_string_equal(catalog_param_find(op, "hosts")->default_value, "dp");

	op = must_find(cat, "Provision/{env}/DataPipeline/Kafka");
	assert_string_equal(op->function, "Provision the kafka");
	assert_string_equal(catalog_param_find(op, "remote")->default_value, "processing-cluster-kafka");

	op = must_find(cat, "Deploy/{env}/DataPipeline/Secor");
	assert_int_equal(op->input_count, 1);
	assert_string_equal(op->inputs[0].operation, "Build/Secor");
	assert_string_equal(op->inputs[0].version, "${artifact_version}");
	assert_string_equal(catalog_param_find(op, "artifact_version")->default_value, "secor-0.25");

	catalog_free(cat);
}

static void test_catalog__data_pipeline_has_six_pods(void **state)
{
	struct catalog *cat;
	const struct catalog_operation *op;
	const struct catalog_stage *par = NULL;

	(void)state;
	cat = load_ok(JOBS);
	op = must_find(cat, "DataRefresh/DataPipeline");
	assert_string_equal(op->display_name, "Data Pipeline");
	assert_null(op->repository);
	assert_string_equal(catalog_param_find(op, "dsource")->default_value, "Patients Prod");
	assert_string_equal(catalog_param_find(op, "masked_master")->default_value,
			    "Patients Masked Master");
	assert_string_equal(op->stages[0].name, "snapshot-production");
	assert_string_equal(op->stages[1].name, "refresh-masked-master");
	for (size_t i = 0; i < op->stage_count; i++)
		if (op->stages[i].kind == CATALOG_STAGE_PARALLEL)
			par = &op->stages[i];
	assert_non_null(par);
	assert_string_equal(par->name, "pods");
	assert_false(par->fail_fast);
	/* six pods from the template, then the template's Full Dataset bookmark */
	assert_int_equal(par->branch_count, 7);
	for (unsigned i = 0; i < 6; i++) {
		const struct catalog_branch *br = &par->branches[i];
		char want[16];

		snprintf(want, sizeof(want), "prep%u", i + 1);
		assert_string_equal(br->name, want);
		assert_int_equal(br->index, i + 1);
		assert_int_equal(br->step_count, 3);
		assert_string_equal(br->steps[0].name, "spin-up");
		assert_non_null(br->steps[0].dddp);
		assert_int_equal(br->steps[0].dddp->action, CATALOG_DDDP_CONTAINER_REFRESH);
		assert_string_equal(br->steps[0].dddp->container, "${BRANCH}");
		assert_true(br->steps[0].dddp->create);
		assert_string_equal(br->steps[1].name, "subset");
		assert_null(br->steps[1].dddp);
		assert_true(br->steps[1].shell);
		assert_string_equal(br->steps[2].name, "bookmark");
		assert_int_equal(br->steps[2].dddp->action, CATALOG_DDDP_BOOKMARK);
		assert_true(br->steps[2].dddp->shared);
	}
	assert_string_equal(par->branches[6].name, "full-dataset");
	assert_int_equal(par->branches[6].index, 7);
	assert_string_equal(par->branches[6].steps[0].dddp->container, "");
	/* names and the engine come from the catalog and the config, not from argv */
	assert_int_equal(op->stages[0].step.dddp->action, CATALOG_DDDP_SYNC);
	assert_string_equal(op->stages[0].step.dddp->database, "${dsource}");
	assert_int_equal(op->stages[0].step.argc, 0);
	assert_null(op->stages[0].step.argv[0]);
	assert_int_equal(op->stages[1].step.dddp->action, CATALOG_DDDP_REFRESH);
	assert_null(catalog_param_find(op, "dddp_url"));
	catalog_free(cat);
}

static void test_catalog__sequences_in_seed_order(void **state)
{
	static const char *const build[] = { "AnalyticsCore", "AnalyticsService",
		"CoreDataProduct", "Datapipeline", "DataReplay", "ETLJobs", "Secor", NULL };
	static const char *const provision[] = { "AnalyticsApi", "AnalyticsSecor",
		"AnalyticsSpark", "Postgres", "Yarn", "Influxdb", "Zookeeper", "Kafka", "Redis", NULL };
	static const char *const deploy[] = { "AnalyticsCore",
		"AnalyticsPopulatePSQLConsumerChannelMapping", "AnalyticsReplayJobs",
		"AnalyticsService", "AnalyticsStartJobManager", "AnalyticsSubmitJobs", "ApiModule",
		"CassandraDbUpdate", "CoreDataProducts", "KafkaIndexer", "KafkaSetup",
		"SamzaTelemetrySchemas", "Secor", "Yarn", NULL };
	static const char *const bootstrap[] = { "Bootstrap", NULL };
	static const char *const refresh[] = { "DataPipeline", NULL };
	struct catalog *cat;

	(void)state;
	cat = load_ok(JOBS);
	assert_sequence(cat, "build", "Build/", build);
	assert_sequence(cat, "provision", "Provision/{env}/DataPipeline/", provision);
	assert_sequence(cat, "deploy", "Deploy/{env}/DataPipeline/", deploy);
	assert_sequence(cat, "bootstrap", "OpsAdministration/{env}/DataPipeline/", bootstrap);
	assert_sequence(cat, "data-refresh", "DataRefresh/", refresh);
	assert_null(catalog_sequence_find(cat, "nope"));
	catalog_free(cat);
}

static void test_catalog__match_concrete_paths(void **state)
{
	struct catalog *cat;
	const struct catalog_operation *op;
	char *env = NULL;

	(void)state;
	cat = load_ok(JOBS);
	op = catalog_match(cat, "Deploy/dev/DataPipeline/Kafka", &env);
	assert_null(op); /* Kafka is provisioned; KafkaSetup is the deploy */
	op = catalog_match(cat, "Provision/dev/DataPipeline/Kafka", &env);
	assert_non_null(op);
	assert_string_equal(op->path, "Provision/{env}/DataPipeline/Kafka");
	assert_string_equal(env, "dev");
	free(env);
	op = catalog_match(cat, "Deploy/dev/DataPipeline/KafkaSetup", &env);
	assert_non_null(op);
	assert_string_equal(env, "dev");
	free(env);
	assert_null(catalog_match(cat, "Deploy/dev/DataPipeline/Nope", &env));
	assert_null(env);
	assert_null(catalog_match(cat, "Deploy/../DataPipeline/Yarn", &env));
	assert_null(env);
	op = catalog_match(cat, "Build/Secor", &env);
	assert_non_null(op);
	assert_null(env);
	catalog_free(cat);
}

/* ---- what the loader builds ------------------------------------------------- */

static void test_catalog__builds_steps_and_branches(void **state)
{
	char *dir = make_dir();
	struct catalog *cat;
	const struct catalog_operation *op;
	const struct catalog_step *st;

	(void)state;
	write_file(dir, "a.xml",
		   "<?xml version=\"1.0\"?>\n"
		   "<!-- a comment -->\n"
		   "<operation path=\"Build/A\" display-name=\"The A\">\n"
		   "  <function>  Builds\n   A </function>\n"
		   "  <repository url=\"https://example.com/a.git\"/>\n"
		   "  <parameters>\n"
		   "    <param name=\"tag\" default=\"v1\" ref=\"true\"/>\n"
		   "    <param name=\"kind\"><choice>x</choice><choice>y</choice></param>\n"
		   "    <param name=\"token\" secret=\"true\" pattern=\"[a-z]+\"/>\n"
		   "  </parameters>\n"
		   "  <steps>\n"
		   "    <step name=\"sh\" shell=\"true\" timeout=\"60\"><script>echo \"$tag\"</script>"
		   "<env name=\"E\" value=\"${tag}-${WORKSPACE}\"/></step>\n"
		   "    <step name=\"run\" workdir=\"sub/${kind}\" retries=\"2\">\n"
		   "      <secret name=\"vault_password\" env=\"VPF\"/>\n"
		   "      <secret name=\"api_key\" env=\"API_KEY\" as=\"value\"/>\n"
		   "      <arg>tool</arg><arg>--pw-file=${VPF}</arg><arg></arg>\n"
		   "    </step>\n"
		   "    <parallel name=\"p\" count=\"3\" fail-fast=\"true\">\n"
		   "      <branch name=\"b{n}x\"><step name=\"s\"><arg>echo</arg><arg>${BRANCH_INDEX}</arg></step></branch>\n"
		   "    </parallel>\n"
		   "  </steps>\n"
		   "  <outputs><output name=\"a.zip\" path=\"out/a.zip\"/></outputs>\n"
		   "</operation>\n");
	write_file(dir, "b.xml",
		   "<operation path=\"Deploy/{env}/M/B\">\n"
		   "  <parameters><param name=\"ver\" default=\"v1\"/></parameters>\n"
		   "  <steps><step name=\"s\"><arg>true</arg></step></steps>\n"
		   "  <inputs><input operation=\"Build/A\" name=\"a.zip\" dest=\"in/a.zip\" version=\"${ver}\"/></inputs>\n"
		   "</operation>\n");
	write_file(dir, "seq.xml",
		   "<sequences><sequence name=\"all\"><op path=\"Build/A\"/><op path=\"Deploy/{env}/M/B\"/></sequence></sequences>\n");
	write_file(dir, "notes.txt", "not a catalog file");
	cat = load_ok(dir);
	assert_int_equal(cat->op_count, 2);
	op = must_find(cat, "Build/A");
	assert_string_equal(op->name, "A");
	assert_string_equal(op->display_name, "The A");
	assert_string_equal(op->function, "Builds A");
	assert_string_equal(op->description, "");
	assert_string_equal(op->repository, "https://example.com/a.git");
	assert_string_equal(catalog_ref_param(op)->name, "tag");
	assert_string_equal(catalog_param_find(op, "kind")->default_value, "x");
	assert_string_equal(catalog_param_find(op, "kind")->choices[1], "y");
	assert_null(catalog_param_find(op, "kind")->choices[2]);
	assert_true(catalog_param_find(op, "token")->secret);
	assert_null(catalog_param_find(op, "nope"));
	assert_int_equal(op->stage_count, 3);

	st = &op->stages[0].step;
	assert_int_equal(op->stages[0].kind, CATALOG_STAGE_STEP);
	assert_true(st->shell);
	assert_int_equal(st->argc, 3);
	assert_string_equal(st->argv[0], "/bin/sh");
	assert_string_equal(st->argv[1], "-c");
	assert_string_equal(st->argv[2], "echo \"$tag\"");
	assert_null(st->argv[3]);
	assert_int_equal(st->timeout_s, 60);
	assert_int_equal(st->line, 13);
	assert_string_equal(st->env[0].value, "${tag}-${WORKSPACE}");

	st = &op->stages[1].step;
	assert_false(st->shell);
	assert_int_equal(st->argc, 3);
	assert_string_equal(st->argv[1], "--pw-file=${VPF}");
	assert_string_equal(st->argv[2], "");
	assert_null(st->argv[3]);
	assert_string_equal(st->workdir, "sub/${kind}");
	assert_int_equal(st->retries, 2);
	assert_int_equal(st->secret_count, 2);
	assert_true(st->secrets[0].as_file);
	assert_false(st->secrets[1].as_file);

	assert_int_equal(op->stages[2].kind, CATALOG_STAGE_PARALLEL);
	assert_true(op->stages[2].fail_fast);
	assert_int_equal(op->stages[2].branch_count, 3);
	assert_string_equal(op->stages[2].branches[2].name, "b3x");
	assert_int_equal(op->stages[2].branches[2].index, 3);
	assert_string_equal(op->stages[2].branches[2].steps[0].argv[1], "${BRANCH_INDEX}");

	op = must_find(cat, "Deploy/{env}/M/B");
	assert_string_equal(op->inputs[0].version, "${ver}");
	assert_null(op->repository);
	assert_string_equal(op->display_name, "B");
	assert_int_equal(catalog_sequence_find(cat, "all")->count, 2);
	catalog_free(cat);
	tmpdir_free(dir);
}

/* ---- errors name the file and the line ------------------------------------- */

static void test_catalog__malformed_xml(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "  <steps>\n  <step name=\"a\"><arg>x</arg></stp>\n</steps></operation>\n",
			 4, NULL);
}

static void test_catalog__unknown_element(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "  <steps>\n    <step name=\"a\"><arg>x</arg></step>\n"
			 "    <bogus/>\n  </steps>\n</operation>\n", 5, "bogus");
}

static void test_catalog__duplicate_path_across_files(void **state)
{
	char *dir = make_dir();

	(void)state;
	write_file(dir, "one.xml", OP_HEAD "<steps><step name=\"a\"><arg>x</arg></step></steps></operation>\n");
	write_file(dir, "two.xml", "<?xml version=\"1.0\"?>\n<!-- a -->\n<!-- b -->\n"
		   "<operation path=\"Build/X\">\n<steps><step name=\"a\"><arg>x</arg></step></steps></operation>\n");
	expect_error(dir, "two.xml", 4, "one.xml:2");
	tmpdir_free(dir);
}

static void test_catalog__unknown_name_reference(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "<parameters><param name=\"p\"/></parameters>\n<steps>\n"
			 "<step name=\"a\">\n<arg>x</arg>\n<arg>${p}${q}</arg></step></steps></operation>\n",
			 7, "${q}");
}

static void test_catalog__braces_in_script(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "<parameters><param name=\"p\"/></parameters>\n<steps>\n"
			 "<step name=\"a\" shell=\"true\">\n<script>echo ${p}</script></step></steps></operation>\n",
			 6, "not allowed in a <script>");
}

static void test_catalog__value_secret_in_argv(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "<steps>\n<step name=\"a\">\n"
			 "<secret name=\"tok\" env=\"TOKEN\" as=\"value\"/>\n<arg>curl</arg>\n"
			 "<arg>-H</arg><arg>Authorization: ${TOKEN}</arg></step></steps></operation>\n",
			 7, "must never be in argv");
}

static void test_catalog__workdir_outside_checkout(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "<steps>\n\n<step name=\"a\" workdir=\"ansible/../..\">"
			 "<arg>x</arg></step></steps></operation>\n", 5, "\"..\"");
}

static void test_catalog__count_template_without_n(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "<steps>\n<parallel name=\"p\" count=\"6\">\n"
			 "<branch name=\"prep\"><step name=\"a\"><arg>x</arg></step></branch>\n"
			 "</parallel></steps></operation>\n", 5, "{n}");
}

static void test_catalog__dddp_steps(void **state)
{
	char *dir = make_dir();
	struct catalog *cat;
	const struct catalog_operation *op;
	const struct catalog_dddp *d;

	(void)state;
	write_file(dir, "x.xml", OP_HEAD "<parameters><param name=\"db\" default=\"P\"/></parameters>\n"
		   "<steps>\n"
		   "<step name=\"a\" timeout=\"5\"><dddp action=\"sync\" database=\"${db}\"/></step>\n"
		   "<parallel name=\"p\" count=\"2\" fail-fast=\"true\">\n"
		   "<branch name=\"first\"><step name=\"f\"><arg>true</arg></step></branch>\n"
		   "<branch name=\"pod{n}\"><step name=\"b\"><dddp action=\"bookmark\" "
		   "template=\"T\" container=\"${BRANCH}\" bookmark=\"${BRANCH} ${RUN_STARTED}\" "
		   "tags=\"x,y\" shared=\"true\"/></step></branch>\n"
		   "<branch name=\"last\"><step name=\"c\"><dddp action=\"container-refresh\" "
		   "template=\"T\" container=\"pod9\"/></step></branch>\n"
		   "</parallel></steps></operation>\n");
	cat = load_ok(dir);
	op = must_find(cat, "Build/X");
	d = op->stages[0].step.dddp;
	assert_non_null(d);
	assert_int_equal(d->action, CATALOG_DDDP_SYNC);
	assert_string_equal(d->database, "${db}");
	assert_string_equal(d->container, "");
	assert_int_equal(op->stages[0].step.timeout_s, 5);
	/* fixed branches keep their place around the expanded template */
	assert_int_equal(op->stages[1].branch_count, 4);
	assert_string_equal(op->stages[1].branches[0].name, "first");
	assert_string_equal(op->stages[1].branches[1].name, "pod1");
	assert_string_equal(op->stages[1].branches[2].name, "pod2");
	assert_int_equal(op->stages[1].branches[2].index, 3);
	assert_string_equal(op->stages[1].branches[3].name, "last");
	d = op->stages[1].branches[2].steps[0].dddp;
	assert_int_equal(d->action, CATALOG_DDDP_BOOKMARK);
	assert_string_equal(d->bookmark, "${BRANCH} ${RUN_STARTED}");
	assert_string_equal(d->tags, "x,y");
	assert_true(d->shared);
	assert_false(d->create);
	assert_string_equal(catalog_dddp_action_name(op->stages[1].branches[3].steps[0].dddp->action),
			    "container-refresh");
	catalog_free(cat);
	tmpdir_free(dir);
}

static void test_catalog__dddp_step_errors(void **state)
{
	static const struct {
		const char *step;
		const char *words;
	} cases[] = {
		{ "<dddp action=\"sync\"/>", "needs a non-empty database=" },
		{ "<dddp action=\"sync\" database=\"\"/>", "needs a non-empty database=" },
		{ "<dddp action=\"sync\" database=\"d\" container=\"c\"/>", "takes no container=" },
		{ "<dddp action=\"bookmark\" template=\"t\"/>", "needs a non-empty bookmark=" },
		{ "<dddp action=\"container-refresh\" template=\"t\"/>", "needs a non-empty container=" },
		{ "<dddp action=\"refresh\" database=\"${nope}\"/>", "unknown name \"${nope}\"" },
		{ "<arg>x</arg><dddp action=\"sync\" database=\"d\"/>", "exactly one <dddp>" },
		{ "<secret name=\"s\" env=\"S\"/><dddp action=\"sync\" database=\"d\"/>",
		  "come from the config's [dddp]" },
		{ "<dddp action=\"sync\" database=\"d\"/><dddp action=\"sync\" database=\"d\"/>",
		  "exactly one <dddp>" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[1024];

		snprintf(body, sizeof(body), OP_HEAD "<steps>\n<step name=\"a\">%s</step>\n"
			 "</steps></operation>\n", cases[i].step);
		expect_doc_error(body, 4, cases[i].words);
	}
}

static void test_catalog__dddp_unknown_action_refused_by_schema(void **state)
{
	(void)state;
	expect_doc_error(OP_HEAD "<steps>\n<step name=\"a\">"
			 "<dddp action=\"provision\" database=\"d\"/></step>\n</steps></operation>\n",
			 4, "provision");
}

/*
 * A DOCTYPE is refused before anything it names is read. The entity is a
 * FIFO without a writer: opening it would block, so a loader that tried to
 * read it would hang and be killed by the alarm in the child.
 */
static void test_catalog__doctype_refused_entity_never_read(void **state)
{
	char *dir = make_dir();
	char fifo[512], doc[1024];
	pid_t pid;
	int status;

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/secret.ent", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(doc, sizeof(doc),
		 "<?xml version=\"1.0\"?>\n\n"
		 "<!DOCTYPE operation [ <!ENTITY ext SYSTEM \"file://%s\"> ]>\n"
		 "<operation path=\"Build/X\"><description>&ext;</description>"
		 "<steps><step name=\"a\"><arg>x</arg></step></steps></operation>\n", fifo);
	write_file(dir, "x.xml", doc);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct catalog *cat;
		int rc;

		alarm(10);
		rc = catalog_load(&cat, dir);
		_exit(rc == DA_EINVALID && strstr(error_last(), "/x.xml:3: ") &&
		      strstr(error_last(), "DOCTYPE") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* and in this process too, for the message */
	expect_error(dir, "x.xml", 3, "DOCTYPE");
	tmpdir_free(dir);
}

static void test_catalog__sequence_names_unknown_operation(void **state)
{
	char *dir = make_dir();

	(void)state;
	write_file(dir, "a.xml", OP_HEAD "<steps><step name=\"a\"><arg>x</arg></step></steps></operation>\n");
	write_file(dir, "seq.xml", "<sequences>\n<sequence name=\"s\">\n<op path=\"Build/X\"/>\n"
		   "<op path=\"Build/Y\"/>\n</sequence></sequences>\n");
	expect_error(dir, "seq.xml", 4, "Build/Y");
	tmpdir_free(dir);
}

static void test_catalog__empty_directory(void **state)
{
	char *dir = make_dir();
	struct catalog *cat;

	(void)state;
	assert_int_equal(catalog_load(&cat, dir), DA_EINVALID);
	assert_null(cat);
	assert_non_null(strstr(error_last(), dir));
	assert_non_null(strstr(error_last(), "no catalog files"));
	assert_int_equal(catalog_load(&cat, "/nonexistent/dir"), DA_EINVALID);
	assert_non_null(strstr(error_last(), "/nonexistent/dir"));
	tmpdir_free(dir);
}

static void test_catalog__other_semantic_errors(void **state)
{
	static const struct { const char *body; int line; const char *words; } cases[] = {
		{ "<parameters>\n<param name=\"a\"/>\n<param name=\"a\"/></parameters>"
		  "<steps><step name=\"s\"><arg>x</arg></step></steps>", 5, "duplicate parameter" },
		{ "<steps>\n<step name=\"s\"><arg>x</arg></step>\n<step name=\"s\"><arg>x</arg></step></steps>",
		  5, "duplicate step" },
		{ "<repository url=\"https://x/y.git\"/>\n<steps><step name=\"s\"><arg>x</arg></step></steps>",
		  3, "ref=\"true\"" },
		{ "<parameters><param name=\"a\" ref=\"true\"/>\n<param name=\"b\" ref=\"true\"/></parameters>"
		  "<repository url=\"https://x/y.git\"/><steps><step name=\"s\"><arg>x</arg></step></steps>",
		  4, "only one parameter" },
		{ "<parameters><param name=\"WORKSPACE\"/></parameters>"
		  "<steps><step name=\"s\"><arg>x</arg></step></steps>", 3, "builtin" },
		{ "<steps>\n<parallel name=\"p\">\n<branch name=\"a\"><step name=\"s\"><arg>x</arg></step></branch>\n"
		  "<branch name=\"a\"><step name=\"s\"><arg>x</arg></step></branch></parallel></steps>",
		  6, "duplicate branch" },
		{ "<steps>\n<step name=\"s\">\n<env name=\"E\" value=\"${nope}\"/><arg>x</arg></step></steps>",
		  5, "${nope}" },
		{ "<steps>\n<step name=\"s\"><arg>x</arg></step></steps>\n"
		  "<inputs><input operation=\"Build/Z\" name=\"z.zip\" dest=\"z.zip\" version=\"1\"/></inputs>",
		  5, "Build/Z" },
		{ "<steps>\n<step name=\"s\"><arg>x</arg></step></steps>\n"
		  "<outputs><output name=\"o\" path=\"../o\"/></outputs>", 5, "\"..\"" },
		{ "<parameters>\n<param name=\"r\" default=\"a b\" pattern=\"[a-z]+\"/></parameters>"
		  "<steps><step name=\"s\"><arg>x</arg></step></steps>", 4, "does not match" },
		{ "<steps>\n<step name=\"s\" shell=\"true\"><arg>x</arg></step></steps>", 4, "<script>" },
		/* Stacked quantifiers make regcomp take gigabytes: refused, not compiled. */
		{ "<parameters>\n<param name=\"r\" pattern=\"[a-z]++++++++++++++++++++++++\"/></parameters>"
		  "<steps><step name=\"s\"><arg>x</arg></step></steps>", 4, "a quantifier follows a quantifier" },
		{ "<parameters>\n<param name=\"r\" pattern=\"a{2}*\"/></parameters>"
		  "<steps><step name=\"s\"><arg>x</arg></step></steps>", 4, "a quantifier follows a quantifier" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char doc[2048];

		snprintf(doc, sizeof(doc), OP_HEAD "%s\n</operation>\n", cases[i].body);
		expect_doc_error(doc, cases[i].line, cases[i].words);
	}
}

static void test_catalog__file_too_big(void **state)
{
	char *dir = make_dir();
	size_t n = 1024 * 1024 + 10;
	char *big = malloc(n + 1);

	(void)state;
	memset(big, ' ', n);
	memcpy(big, "<operation", 10);
	big[n] = '\0';
	write_file(dir, "big.xml", big);
	free(big);
	{
		struct catalog *cat;

		assert_int_not_equal(catalog_load(&cat, dir), 0);
		assert_non_null(strstr(error_last(), "big.xml"));
		assert_non_null(strstr(error_last(), "larger than"));
	}
	tmpdir_free(dir);
}

static int teardown_libxml(void **state)
{
	(void)state;
	xmlSchemaCleanupTypes();
	xmlCleanupParser();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog__real_catalog_has_every_operation),
		cmocka_unit_test(test_catalog__data_pipeline_has_six_pods),
		cmocka_unit_test(test_catalog__sequences_in_seed_order),
		cmocka_unit_test(test_catalog__match_concrete_paths),
		cmocka_unit_test(test_catalog__builds_steps_and_branches),
		cmocka_unit_test(test_catalog__malformed_xml),
		cmocka_unit_test(test_catalog__unknown_element),
		cmocka_unit_test(test_catalog__duplicate_path_across_files),
		cmocka_unit_test(test_catalog__unknown_name_reference),
		cmocka_unit_test(test_catalog__braces_in_script),
		cmocka_unit_test(test_catalog__value_secret_in_argv),
		cmocka_unit_test(test_catalog__workdir_outside_checkout),
		cmocka_unit_test(test_catalog__count_template_without_n),
		cmocka_unit_test(test_catalog__dddp_steps),
		cmocka_unit_test(test_catalog__dddp_step_errors),
		cmocka_unit_test(test_catalog__dddp_unknown_action_refused_by_schema),
		cmocka_unit_test(test_catalog__doctype_refused_entity_never_read),
		cmocka_unit_test(test_catalog__sequence_names_unknown_operation),
		cmocka_unit_test(test_catalog__empty_directory),
		cmocka_unit_test(test_catalog__other_semantic_errors),
		cmocka_unit_test(test_catalog__file_too_big),
	};
	return cmocka_run_group_tests(tests, NULL, teardown_libxml);
}
