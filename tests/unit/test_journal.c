/*
 * Unit tests for agent/journal.c: entries survive a round trip whatever
 * their strings hold, come back oldest claim first, a damaged entry is moved
 * aside without hiding the others, and one state_dir has one agent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "journal.h"
#include "tmpdir.h"
#include "xmalloc.h"

/* Each test's state_dir, new for each test. */
static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = tmpdir_new("journal");
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_free(dir);
	dir = NULL;
	return 0;
}

static void test_journal__round_trip_and_order(void **state)
{
	char *params[] = { "github_release_tag=release-2.8.0", "note=a \"quoted\"\nline\t\u00e9", NULL };
	struct journal_entry a = { .queue_id = 42, .state = JOURNAL_CLAIMING, .job = "Deploy/dev/X",
				   .user = "alice", .params = params, .since_ms = 2000 };
	struct journal_entry b = { .queue_id = 7, .state = JOURNAL_FINISHED, .job = "Build/Y",
				   .params = NULL, .spool = "/s/7.log", .since_ms = 1000,
				   .result = RUN_ABORTED, .duration_ms = 1234,
				   .display_name = "#7 v1", .description = "d <&>" };
	struct journal_entry *v;
	struct journal *j;
	size_t n;

	(void)state;
	assert_int_equal(journal_open(&j, dir), 0);
	assert_int_equal(journal_write(j, &a, true), 0);
	assert_int_equal(journal_write(j, &b, false), 0);
	a.state = JOURNAL_RUNNING;
	a.spool = "/s/42.log";
	assert_int_equal(journal_write(j, &a, true), 0);   /* replaces the claiming entry */
	assert_int_equal(journal_list(j, &v, &n), 0);
	assert_int_equal(n, 2);
	/* Oldest claim first. */
	assert_int_equal(v[0].queue_id, 7);
	assert_int_equal(v[0].state, JOURNAL_FINISHED);
	assert_int_equal(v[0].result, RUN_ABORTED);
	assert_int_equal(v[0].duration_ms, 1234);
	assert_string_equal(v[0].display_name, "#7 v1");
	assert_string_equal(v[0].description, "d <&>");
	assert_null(v[0].user);
	assert_null(v[0].params[0]);
	assert_int_equal(v[1].queue_id, 42);
	assert_int_equal(v[1].state, JOURNAL_RUNNING);
	assert_string_equal(v[1].spool, "/s/42.log");
	assert_string_equal(v[1].user, "alice");
	assert_string_equal(v[1].params[0], params[0]);
	assert_string_equal(v[1].params[1], params[1]);
	assert_null(v[1].params[2]);
	journal_entries_free(v, n);
	assert_int_equal(journal_remove(j, 42, true), 0);
	assert_int_equal(journal_remove(j, 42, true), 0);   /* missing is fine */
	assert_int_equal(journal_list(j, &v, &n), 0);
	assert_int_equal(n, 1);
	journal_entries_free(v, n);
	assert_int_equal(journal_remove(j, 7, false), 0);
	journal_free(j);
}

static void test_journal__damaged_entry_moved_aside(void **state)
{
	struct journal_entry a = { .queue_id = 5, .state = JOURNAL_CLAIMED, .job = "Build/Z",
				   .since_ms = 1 };
	char *bad = xasprintf("%s/journal/q9.json", dir), *moved = xasprintf("%s.bad", bad);
	struct journal_entry *v;
	struct journal *j;
	FILE *f;
	size_t n;

	(void)state;
	assert_int_equal(journal_open(&j, dir), 0);
	assert_int_equal(journal_write(j, &a, true), 0);
	f = fopen(bad, "w");
	assert_non_null(f);
	fputs("{\"queue_id\": 9, \"state\": \"claim", f);   /* cut short */
	fclose(f);
	assert_int_equal(journal_list(j, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].queue_id, 5);
	assert_int_equal(access(bad, F_OK), -1);
	assert_int_equal(access(moved, F_OK), 0);
	journal_entries_free(v, n);
	unlink(moved);
	journal_remove(j, 5, true);
	journal_free(j);
	free(bad);
	free(moved);
}

static void test_journal__one_agent_per_state_dir(void **state)
{
	struct journal *j, *k;

	(void)state;
	assert_int_equal(journal_open(&j, dir), 0);
	assert_int_equal(journal_open(&k, dir), DA_ECONFLICT);
	assert_non_null(strstr(error_last(), "in use by another dataops-agent"));
	journal_free(j);
	assert_int_equal(journal_open(&k, dir), 0);   /* the lock went with the first */
	journal_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal__round_trip_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal__damaged_entry_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal__one_agent_per_state_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
