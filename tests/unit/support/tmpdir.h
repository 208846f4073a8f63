/*
 * tmpdir.h - a private directory for one unit test group: made by setup,
 * removed with everything in it by teardown. A test that cannot make one
 * fails its setup, naming why.
 */
#ifndef DA_TEST_TMPDIR_H
#define DA_TEST_TMPDIR_H

/* "/tmp/da-<name>-XXXXXX", made; NULL (message on stderr) when it cannot be. */
char *tmpdir_new(const char *name);
/* Remove it and what it holds; accepts NULL. */
void tmpdir_free(char *dir);

/*
 * For a file whose tests share one directory: cmocka group setup and
 * teardown around tmpdir_new, named after the test binary
 * ("/tmp/da-test_spool-XXXXXX"). Between the two, tmpdir is its path.
 */
extern char *tmpdir;
int tmpdir_setup(void **state);
int tmpdir_teardown(void **state);

/*
 * The whole file at path as a new string (its bytes, then a NUL); NULL when
 * it cannot be read, with the reason in error_last(). Up to 64 MiB.
 */
char *tmpdir_read_file(const char *path);

#endif
