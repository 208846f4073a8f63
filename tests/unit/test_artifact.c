/* Unit tests for agent/artifact.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact.h"
#include "error.h"
#include "fsutil.h"
#include "tmpdir.h"
#include "xmalloc.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_artifact__store_then_fetch_same_bytes(void **state)
{
	char *src = xasprintf("%s/in.zip", tmpdir);
	char *dest = xasprintf("%s/ws/ansible/in.zip", tmpdir);
	char sha[ARTIFACT_SHA256_HEX], sha2[ARTIFACT_SHA256_HEX];
	char *fetched;

	(void)state;
	write_file(src, "abc");
	assert_int_equal(artifact_store(sha, tmpdir, "Build/AnalyticsCore", "release-2.8.0",
					"lpa_core_artifacts.zip", src), 0);
	/* SHA-256("abc"), FIPS 180-2 appendix B.1 */
	assert_string_equal(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(artifact_fetch(sha2, tmpdir, "Build/AnalyticsCore", "release-2.8.0",
					"lpa_core_artifacts.zip", dest), 0);
	assert_string_equal(sha, sha2);
	fetched = tmpdir_read_file(dest);
	assert_non_null(fetched);
	assert_string_equal(fetched, "abc");
	free(fetched);
	free(src);
	free(dest);
}

static void test_artifact__missing_names_operation_and_version(void **state)
{
	char *dest = xasprintf("%s/ws/x.zip", tmpdir);
	char sha[ARTIFACT_SHA256_HEX];

	(void)state;
	assert_int_equal(artifact_fetch(sha, tmpdir, "Build/Secor", "secor-0.25",
					"secor_artifacts.zip", dest), DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "Build/Secor"));
	assert_non_null(strstr(error_last(), "secor-0.25"));
	assert_int_equal(access(dest, F_OK), -1);
	free(dest);
}

static void test_artifact__corruption_detected(void **state)
{
	char *src = xasprintf("%s/in2.zip", tmpdir);
	char *stored = xasprintf("%s/artifacts/Build__Secor/secor-0.25/s.zip", tmpdir);
	char *dest = xasprintf("%s/ws2/s.zip", tmpdir);
	char sha[ARTIFACT_SHA256_HEX];

	(void)state;
	write_file(src, "original");
	assert_int_equal(artifact_store(sha, tmpdir, "Build/Secor", "secor-0.25", "s.zip", src), 0);
	write_file(stored, "tampered");
	assert_int_equal(artifact_fetch(sha, tmpdir, "Build/Secor", "secor-0.25", "s.zip", dest),
			 DA_ERROR);
	assert_non_null(strstr(error_last(), "corrupt"));
	assert_int_equal(access(dest, F_OK), -1);
	free(src);
	free(stored);
	free(dest);
}

static void test_artifact__version_cannot_escape(void **state)
{
	char *src = xasprintf("%s/in3.zip", tmpdir);
	char *escaped = xasprintf("%s/artifacts/Build__X/%%2E.%%2Fx/a.zip", tmpdir);
	char sha[ARTIFACT_SHA256_HEX];

	(void)state;
	write_file(src, "z");
	assert_int_equal(artifact_store(sha, tmpdir, "Build/X", "../x", "a.zip", src), 0);
	assert_int_equal(access(escaped, F_OK), 0);
	assert_int_equal(artifact_store(sha, tmpdir, "Build/X", "v1", "../a.zip", src), DA_EINVALID);
	free(src);
	free(escaped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_artifact__store_then_fetch_same_bytes),
		cmocka_unit_test(test_artifact__missing_names_operation_and_version),
		cmocka_unit_test(test_artifact__corruption_detected),
		cmocka_unit_test(test_artifact__version_cannot_escape),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
