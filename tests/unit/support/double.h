/*
 * double.h - a test double (a script of tests/doubles) started by a C unit
 * test: on 127.0.0.1, on a free port it writes to a file, in a private
 * directory, killed and cleaned up by double_stop. Its start is bounded by
 * 10 s. Without /usr/bin/python3 double_start returns 1 and the tests that
 * need it skip().
 */
#ifndef DA_TEST_DOUBLE_H
#define DA_TEST_DOUBLE_H

#include <sys/types.h>

#define DOUBLE_PYTHON "/usr/bin/python3"

struct test_double {
	pid_t pid;
	char dir[64];   /* private directory, for files the double reads */
	char url[64];   /* http://127.0.0.1:<port>, "" when not running */
};

/* Make the private directory ("/tmp/<name>.XXXXXX"); 0 or -1. */
int double_prepare(struct test_double *d, const char *name);
/*
 * Run script with "--port 0 --port-file <dir>/port" and args (NULL-
 * terminated) and wait for its port. 0 when it listens, 1 when there is no
 * python (skip), -1 on failure (message on stderr naming what).
 */
int double_start(struct test_double *d, const char *script, const char *const *args);
/* Kill it, reap it, and remove its directory with what is in it. */
void double_stop(struct test_double *d);

#endif
