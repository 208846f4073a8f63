/* double.c - start and stop a test double from a C unit test (see double.h). */
#include "double.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "sleep.h"
#include "timeutil.h"

int double_prepare(struct test_double *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/%s.XXXXXX", name);
	return mkdtemp(d->dir) ? 0 : -1;
}

int double_start(struct test_double *d, const char *script, const char *const *args)
{
	char portfile[128];
	const char *arg[32];
	char *argv[32];
	size_t n = 0;
	uint64_t deadline;
	int port = 0;

	if (access(DOUBLE_PYTHON, X_OK) != 0)
		return 1;
	snprintf(portfile, sizeof(portfile), "%s/port", d->dir);
	arg[n++] = DOUBLE_PYTHON;
	arg[n++] = script;
	arg[n++] = "--port";
	arg[n++] = "0";
	arg[n++] = "--port-file";
	arg[n++] = portfile;
	for (size_t i = 0; args && args[i] && n < sizeof(arg) / sizeof(arg[0]) - 1; i++)
		arg[n++] = args[i];
	arg[n] = NULL;
	/* execv's argv is char *const[]: the same pointers, copied without a cast. */
	memcpy(argv, arg, (n + 1) * sizeof(arg[0]));
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		execv(DOUBLE_PYTHON, argv);
		_exit(127);
	}
	deadline = time_mono_ms() + 10000;
	while (time_mono_ms() < deadline) {
		FILE *f;

		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			break;
		}
		f = fopen(portfile, "r");
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
			if (port > 0)
				break;
		}
		sleep_ms(20);
	}
	if (port <= 0) {
		fprintf(stderr, "%s did not start within 10 s\n", script);
		double_stop(d);
		return -1;
	}
	snprintf(d->url, sizeof(d->url), "http://127.0.0.1:%d", port);
	return 0;
}

void double_stop(struct test_double *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	if (d->dir[0])
		fs_remove_tree(d->dir);
	d->dir[0] = '\0';
	d->url[0] = '\0';
}
