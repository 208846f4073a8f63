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

#endif
