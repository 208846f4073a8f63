/* Unit tests for common/spool.c and common/fsutil.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "spool.h"
#include "tmpdir.h"
#include "xmalloc.h"

static void test_spool__reader_sees_writes_then_end(void **state)
{
	char *path = xasprintf("%s/a.log", tmpdir);
	struct spool *s;
	char buf[64];
	ssize_t n;

	(void)state;
	assert_int_equal(spool_open(&s, path), 0);
	assert_int_equal(spool_read_at(s, 0, buf, sizeof(buf), 10), DA_ETIMEOUT);
	assert_int_equal(spool_write(s, "hello ", 6), 0);
	assert_int_equal(spool_printf(s, "%s %d\n", "world", 7), 0);
	assert_int_equal(spool_size(s), 14);
	n = spool_read_at(s, 0, buf, sizeof(buf), 10);
	assert_int_equal(n, 14);
	assert_memory_equal(buf, "hello world 7\n", 14);
	assert_int_equal(spool_read_at(s, 6, buf, 5, 10), 5);
	assert_memory_equal(buf, "world", 5);
	spool_finish(s);
	assert_int_equal(spool_read_at(s, 14, buf, sizeof(buf), 1000), 0);
	spool_free(s);
	free(path);
}

struct feeder {
	struct spool *s;
	int count;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;

	for (int i = 0; i < f->count; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "line %06d\n", i);
		spool_write(f->s, line, (size_t)n);
		if (i % 100 == 0)
			usleep(100);
	}
	spool_finish(f->s);
	return NULL;
}

static void test_spool__follower_gets_every_byte_in_order(void **state)
{
	char *path = xasprintf("%s/b.log", tmpdir);
	struct feeder f = { NULL, 5000 };
	pthread_t t;
	uint64_t off = 0;
	char buf[4096], expect[32];
	char *all = xmalloc(5000 * 12 + 1);

	(void)state;
	assert_int_equal(spool_open(&f.s, path), 0);
	pthread_create(&t, NULL, feed, &f);
	for (;;) {
		ssize_t n = spool_read_at(f.s, off, buf, sizeof(buf), 2000);
		if (n == DA_ETIMEOUT)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		memcpy(all + off, buf, (size_t)n);
		off += (uint64_t)n;
	}
	pthread_join(t, NULL);
	assert_int_equal(off, 5000 * 12);
	for (int i = 0; i < 5000; i += 499) {
		snprintf(expect, sizeof(expect), "line %06d\n", i);
		assert_memory_equal(all + i * 12, expect, 12);
	}
	spool_free(f.s);
	free(all);
	free(path);
}

static void test_spool__unwritable_path_is_named(void **state)
{
	struct spool *s;

	(void)state;
	assert_int_equal(spool_open(&s, "/nonexistent-dir/x.log"), DA_ERROR);
	assert_null(s);
	assert_non_null(strstr(error_last(), "/nonexistent-dir/x.log"));
}

static void test_spool__disk_full_is_sticky(void **state)
{
	struct spool *s;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	/* /dev/full fails every write with ENOSPC, as a full disk does. */
	assert_int_equal(spool_open(&s, "/dev/full"), 0);
	assert_int_equal(spool_write(s, "x", 1), DA_ERROR);
	assert_non_null(strstr(error_last(), "No space left"));
	assert_int_equal(spool_write(s, "y", 1), DA_ERROR);
	spool_free(s);
}

static void test_fsutil__mkdir_p_and_remove_tree(void **state)
{
	char *deep = xasprintf("%s/x/y/z", tmpdir);
	char *top = xasprintf("%s/x", tmpdir);
	char *link = xasprintf("%s/x/y/link", tmpdir);

	(void)state;
	assert_int_equal(fs_mkdir_p(deep, 0755), 0);
	assert_true(fs_is_dir(deep));
	assert_int_equal(fs_mkdir_p(deep, 0755), 0);
	/* A symlink out of the tree must not be followed by the removal. */
	assert_int_equal(symlink(tmpdir, link), 0);
	assert_int_equal(fs_remove_tree(top), 0);
	assert_false(fs_is_dir(top));
	assert_true(fs_is_dir(tmpdir));
	assert_int_equal(fs_remove_tree(top), 0);
	free(deep);
	free(top);
	free(link);
}

static void test_fsutil__relpath_safety(void **state)
{
	(void)state;
	assert_true(fs_relpath_is_safe(""));
	assert_true(fs_relpath_is_safe("ansible"));
	assert_true(fs_relpath_is_safe("ansible/inventory/env/"));
	assert_true(fs_relpath_is_safe("a/..b/c"));
	assert_false(fs_relpath_is_safe("/etc"));
	assert_false(fs_relpath_is_safe(".."));
	assert_false(fs_relpath_is_safe("a/../../b"));
	assert_false(fs_relpath_is_safe("a//b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spool__reader_sees_writes_then_end),
		cmocka_unit_test(test_spool__follower_gets_every_byte_in_order),
		cmocka_unit_test(test_spool__unwritable_path_is_named),
		cmocka_unit_test(test_spool__disk_full_is_sticky),
		cmocka_unit_test(test_fsutil__mkdir_p_and_remove_tree),
		cmocka_unit_test(test_fsutil__relpath_safety),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
