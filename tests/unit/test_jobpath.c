/* Unit tests for agent/jobpath.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "jobpath.h"

static void test_jobpath__expand_and_match(void **state)
{
	char *p, *env;

	(void)state;
	p = jobpath_expand("Deploy/{env}/DataPipeline/Kafka", "dev");
	assert_string_equal(p, "Deploy/dev/DataPipeline/Kafka");
	assert_true(jobpath_match("Deploy/{env}/DataPipeline/Kafka", p, &env));
	assert_string_equal(env, "dev");
	free(env);
	free(p);
	assert_false(jobpath_match("Deploy/{env}/DataPipeline/Kafka",
				   "Deploy/a/b/DataPipeline/Kafka", &env));
	assert_null(env);
	assert_false(jobpath_match("Deploy/{env}/DataPipeline/Kafka",
				   "Deploy//DataPipeline/Kafka", &env));
	assert_false(jobpath_match("Deploy/{env}/DataPipeline/Kafka",
				   "Deploy/dev/DataPipeline/Kafka-runs", &env));
	assert_true(jobpath_match("Build/Secor", "Build/Secor", &env));
	assert_null(env);
}

static void test_jobpath__env_and_module_from_segments(void **state)
{
	char *env, *module;

	(void)state;
	jobpath_env_module("Deploy/dev/DataPipeline/Yarn", &env, &module);
	assert_string_equal(env, "dev");
	assert_string_equal(module, "DataPipeline");
	free(env);
	free(module);
	jobpath_env_module("Build/Secor", &env, &module);
	assert_null(env);
	assert_string_equal(module, "Build");
	free(module);
}

static void test_jobpath__segments(void **state)
{
	(void)state;
	assert_true(jobpath_segment_is_valid("dev"));
	assert_true(jobpath_segment_is_valid("pre-prod_2"));
	assert_false(jobpath_segment_is_valid(""));
	assert_false(jobpath_segment_is_valid(".."));
	assert_false(jobpath_segment_is_valid("a/b"));
	assert_false(jobpath_segment_is_valid("a b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobpath__expand_and_match),
		cmocka_unit_test(test_jobpath__env_and_module_from_segments),
		cmocka_unit_test(test_jobpath__segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
