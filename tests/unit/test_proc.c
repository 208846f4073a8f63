/*
 * Unit tests for common/proc.c: real children, run through /bin/sh and
 * coreutils. Each test bounds its own time; the whole file runs in a few
 * seconds. Children sleep 20 s at most, so a regression in an ending
 * fails an elapsed-time assertion instead of hanging until ctest's
 * timeout. Background processes a failing test would leave are killed
 * before its assertions run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "error.h"
#include "proc.h"
#include "sleep.h"
#include "timeutil.h"
#include "tmpdir.h"
#include "xmalloc.h"

static const char *const test_env[] = { "PATH=/usr/bin:/bin", NULL };

/* Everything the child wrote, and how many callbacks it took. */
struct capture {
	char *data;
	size_t len;
	size_t calls;
};

static void capture_cb(const char *data, size_t len, void *payload)
{
	struct capture *c = payload;

	c->data = xrealloc(c->data, c->len + len + 1);
	memcpy(c->data + c->len, data, len);
	c->len += len;
	c->data[c->len] = '\0';
	c->calls++;
}

static void capture_dispose(struct capture *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

/* Run argv with the test PATH, capturing output; returns proc_run's code. */
static int run(struct proc_result *r, struct capture *c, const char *const *argv,
	       unsigned timeout_ms, unsigned grace_ms)
{
	struct proc_opts o = PROC_OPTS_INIT;

	o.argv = argv;
	o.envp = test_env;
	o.timeout_ms = timeout_ms;
	o.grace_ms = grace_ms;
	o.on_output = capture_cb;
	o.payload = c;
	return proc_run(r, &o);
}

/*
 * Fields 3 to 5 of /proc/<pid>/stat (pid as its directory name): the state
 * letter, the parent and the process group. false when there is no such
 * process.
 */
static bool read_stat(const char *pid, char *state, long *ppid, long *pgrp)
{
	char path[300], line[512], *paren;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	/* After the name, which may hold anything: the last ')'. */
	if (fgets(line, sizeof(line), f) != NULL && (paren = strrchr(line, ')')) != NULL)
		ok = sscanf(paren + 1, " %c %ld %ld", state, ppid, pgrp) == 3;
	fclose(f);
	return ok;
}

/* The state letter in /proc/<pid>/stat, or 0 when there is no such process. */
static char proc_state(pid_t pid)
{
	char name[32], state;
	long ppid, pgrp;

	snprintf(name, sizeof(name), "%ld", (long)pid);
	return read_stat(name, &state, &ppid, &pgrp) ? state : 0;
}

/* How many processes match: children of ours (pgrp < 0) or live members of group pgrp. */
static int count_procs(long pgrp)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char state;
		long ppid, group;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    !read_stat(e->d_name, &state, &ppid, &group))
			continue;
		if (pgrp < 0 ? ppid == (long)getpid() : group == pgrp && state != 'Z')
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Gone, or a zombie waiting for init: it no longer runs. A SIGKILL is
 * delivered asynchronously, so allow it a moment to land.
 */
static bool process_gone(pid_t pid)
{
	for (int i = 0; i < 50; i++) {
		char s = proc_state(pid);

		if (s == 0 || s == 'Z' || s == 'X')
			return true;
		sleep_ms(10);
	}
	return false;
}

/* The pid the child printed on its first line. */
static pid_t first_line_pid(const struct capture *c)
{
	return c->data != NULL ? (pid_t)strtol(c->data, NULL, 10) : 0;
}

/*
 * Has the process whose pid the child printed first ended? It is killed
 * either way, so that a failing test leaves nothing behind.
 */
static bool printed_pid_gone(const struct capture *c)
{
	pid_t pid = first_line_pid(c);
	bool gone;

	assert_true(pid > 1);
	gone = process_gone(pid);
	kill(pid, SIGKILL);
	return gone;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/* Processes (zombies included) whose parent is this process. */
static int count_children(void)
{
	return count_procs(-1);
}

static void test_proc__captures_output_exactly(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c",
		"printf 'a\\000b\\377'; printf err >&2", NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	assert_int_equal(run(&r, &c, argv, 0, 0), 0);
	assert_int_equal(c.len, 7);
	assert_memory_equal(c.data, "a\0b\377err", 7);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	assert_true(r.pid > 0);
	capture_dispose(&c);
}

static void test_proc__streams_large_output_in_chunks(void **state)
{
	const char *const argv[] = { "head", "-c", "300000", "/dev/zero", NULL };
	struct proc_result r;
	struct capture c = { 0 };
	size_t zeros = 0;

	(void)state;
	assert_int_equal(run(&r, &c, argv, 0, 0), 0);
	assert_int_equal(c.len, 300000);
	for (size_t i = 0; i < c.len; i++)
		zeros += c.data[i] == '\0';
	assert_int_equal(zeros, 300000);
	/* 64 KiB reads: at least five callbacks for 300 kB. */
	assert_true(c.calls >= 5);
	capture_dispose(&c);
}

static void test_proc__reports_exit_codes(void **state)
{
	const char *const ok[] = { "true", NULL };
	const char *const three[] = { "/bin/sh", "-c", "exit 3", NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	assert_int_equal(run(&r, &c, ok, 0, 0), 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(proc_result_describe(&r), "exit code 0");

	assert_int_equal(run(&r, &c, three, 0, 0), 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 3);
	assert_false(r.timed_out);
	assert_false(r.cancelled);
	assert_string_equal(proc_result_describe(&r), "exit code 3");
	capture_dispose(&c);
}

static void test_proc__reports_killing_signal(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c", "kill -KILL $$", NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	assert_int_equal(run(&r, &c, argv, 0, 0), 0);
	assert_false(r.exited);
	assert_int_equal(r.signal, 9);
	assert_string_equal(proc_result_describe(&r), "killed by signal 9 (Killed)");
	capture_dispose(&c);
}

static void test_proc__command_not_found(void **state)
{
	const char *const missing[] = { "da-proc-no-such-command", NULL };
	const char *const not_exec[] = { DA_SOURCE_DIR "/CMakeLists.txt", NULL };
	const char *const not_exec_in_path[] = { "CMakeLists.txt", NULL };
	const char *const src_path[] = { "PATH=" DA_SOURCE_DIR, NULL };
	struct proc_opts o = PROC_OPTS_INIT;
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	error_clear();
	assert_int_equal(run(&r, &c, missing, 0, 0), DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "'da-proc-no-such-command'"));
	assert_non_null(strstr(error_last(), "/usr/bin:/bin"));

	/* No PATH in envp: the documented default is searched. */
	error_clear();
	o.argv = missing;
	assert_int_equal(proc_run(&r, &o), DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "/usr/local/bin:/usr/bin:/bin"));

	/* Present but not executable, by path and through PATH. */
	error_clear();
	assert_int_equal(run(&r, &c, not_exec, 0, 0), DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "CMakeLists.txt"));
	assert_non_null(strstr(error_last(), "Permission denied"));
	error_clear();
	o.argv = not_exec_in_path;
	o.envp = src_path;
	assert_int_equal(proc_run(&r, &o), DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "not found in PATH " DA_SOURCE_DIR));

	assert_int_equal(c.calls, 0);
	capture_dispose(&c);
}

static void test_proc__bad_cwd_names_it(void **state)
{
	const char *const pwd[] = { "pwd", NULL };
	struct proc_opts o = PROC_OPTS_INIT;
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	o.argv = pwd;
	o.envp = test_env;
	o.on_output = capture_cb;
	o.payload = &c;
	o.cwd = "/nonexistent/da-proc-cwd";
	error_clear();
	assert_true(proc_run(&r, &o) < 0);
	assert_string_equal(error_last(),
		"cannot run 'pwd' in /nonexistent/da-proc-cwd: No such file or directory");
	assert_int_equal(c.calls, 0);

	/* And a good one is used. */
	o.cwd = "/";
	assert_int_equal(proc_run(&r, &o), 0);
	assert_string_equal(c.data, "/\n");
	capture_dispose(&c);
}

static void test_proc__environment_is_exactly_envp(void **state)
{
	const char *const argv[] = { "/usr/bin/env", NULL };
	const char *const env[] = { "A=1", "B=two words", "EMPTY=", NULL };
	struct proc_opts o = PROC_OPTS_INIT;
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	/* Something of ours the child must not see. */
	setenv("DA_PROC_TEST_LEAK", "secret", 1);
	o.argv = argv;
	o.envp = env;
	o.on_output = capture_cb;
	o.payload = &c;
	assert_int_equal(proc_run(&r, &o), 0);
	assert_string_equal(c.data, "A=1\nB=two words\nEMPTY=\n");
	capture_dispose(&c);

	o.envp = NULL; /* empty */
	assert_int_equal(proc_run(&r, &o), 0);
	assert_int_equal(c.len, 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	unsetenv("DA_PROC_TEST_LEAK");
	capture_dispose(&c);
}

static void test_proc__argv_passed_literally(void **state)
{
	char marker[64], evil[256];
	const char *argv[] = { "/usr/bin/printf", "%s", evil, NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	snprintf(marker, sizeof(marker), "/tmp/da-proc-literal-%ld", (long)getpid());
	snprintf(evil, sizeof(evil), "$(touch %s); rm -rf `touch %s` \"; *", marker, marker);
	unlink(marker);
	assert_int_equal(run(&r, &c, argv, 0, 0), 0);
	assert_string_equal(c.data, evil);
	assert_int_equal(access(marker, F_OK), -1);
	capture_dispose(&c);
}

static void test_proc__child_gets_only_stdio(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c", "ls /proc/$$/fd; exit 0", NULL };
	struct proc_result r;
	struct capture c = { 0 };
	int fd;

	(void)state;
	/* A descriptor of ours without CLOEXEC, as a careless module might leave. */
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 50), 50);
	close(fd);
	assert_int_equal(run(&r, &c, argv, 0, 0), 0);
	close(50);
	/*
	 * The shell's table, listed by its child ls (a glob or ls on
	 * itself would show its own directory fd): not 3 (the status
	 * pipe), nor 50, nor the output pipe's read end.
	 */
	assert_string_equal(c.data, "0\n1\n2\n");
	capture_dispose(&c);
}

static void test_proc__child_starts_with_default_signals(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c", "kill -PIPE $$; exit 0", NULL };
	struct sigaction ign, old;
	struct proc_result r;
	struct capture c = { 0 };
	int err;

	(void)state;
	/* Agents ignore SIGPIPE; an ignored signal stays ignored across exec. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old);
	err = run(&r, &c, argv, 0, 0);
	sigaction(SIGPIPE, &old, NULL);
	assert_int_equal(err, 0);
	assert_false(r.exited);
	assert_int_equal(r.signal, SIGPIPE);
	capture_dispose(&c);
}

static void test_proc__stdin_is_dev_null(void **state)
{
	const char *const argv[] = { "cat", NULL };
	struct proc_result r;
	struct capture c = { 0 };
	int p[2], saved, err;

	(void)state;
	/* Our stdin holds data the child must not read. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "leak", 4), 4);
	close(p[1]);
	saved = dup(0);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	err = run(&r, &c, argv, 3000, 0);
	dup2(saved, 0);
	close(saved);
	assert_int_equal(err, 0);
	assert_int_equal(c.len, 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	capture_dispose(&c);
}

static void test_proc__timeout_terms_the_child(void **state)
{
	const char *const argv[] = { "sleep", "20", NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	assert_int_equal(run(&r, &c, argv, 300, 0), 0);
	assert_true(r.timed_out);
	assert_false(r.cancelled);
	assert_false(r.exited);
	assert_int_equal(r.signal, SIGTERM);
	assert_true(r.elapsed_ms >= 300);
	assert_true(r.elapsed_ms < 3000);
	assert_string_equal(proc_result_describe(&r),
		"timed out after 0.3 s (killed by signal 15 (Terminated))");
	capture_dispose(&c);
}

static void test_proc__timeout_kills_the_whole_group(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c", "sleep 20 & echo $!; wait", NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	assert_int_equal(run(&r, &c, argv, 300, 1000), 0);
	assert_true(printed_pid_gone(&c));
	assert_true(r.timed_out);
	assert_int_equal(r.signal, SIGTERM);
	assert_true(r.elapsed_ms < 3000);
	capture_dispose(&c);
}

static void test_proc__sigkill_after_grace(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c", "trap '' TERM; echo ready; sleep 20", NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	assert_int_equal(run(&r, &c, argv, 300, 200), 0);
	assert_string_equal(c.data, "ready\n");
	assert_true(r.timed_out);
	assert_false(r.exited);
	assert_int_equal(r.signal, SIGKILL);
	assert_true(r.elapsed_ms >= 500);
	assert_true(r.elapsed_ms < 3000);
	assert_string_equal(proc_result_describe(&r),
		"timed out after 0.3 s (killed by signal 9 (Killed))");
	capture_dispose(&c);
}

/* The leader exits at once; what it left behind holds stdout. */
static void check_leftover_is_ended(const char *script, unsigned min_ms)
{
	const char *const argv[] = { "/bin/sh", "-c", script, NULL };
	struct proc_result r;
	struct capture c = { 0 };

	assert_int_equal(run(&r, &c, argv, 0, 200), 0);
	assert_true(printed_pid_gone(&c));
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	assert_false(r.timed_out);
	assert_true(r.elapsed_ms >= min_ms);
	assert_true(r.elapsed_ms < 3000);
	capture_dispose(&c);
}

static void test_proc__leader_exit_ends_leftovers(void **state)
{
	(void)state;
	check_leftover_is_ended("sleep 20 & echo $!", 0);
	/*
	 * One that ignores SIGTERM waits out the 200 ms grace, then SIGKILL.
	 * The ignore is set before the fork so that sleep has it from birth
	 * (a trap inside the subshell could come after our SIGTERM).
	 */
	check_leftover_is_ended("trap '' TERM; sleep 20 & echo $!", 200);
}

static void test_proc__final_kill_ends_detached_members(void **state)
{
	(void)state;
	/*
	 * The member lets go of our pipe and stays in the group; the leader
	 * drops the pipe too and exits 0.2 s later, so EOF comes before the
	 * exit and only the last group SIGKILL can end the member.
	 */
	check_leftover_is_ended(
		"sleep 20 >/dev/null 2>&1 & echo $!; exec >/dev/null 2>&1; sleep 0.2", 200);
}

/*
 * A step that leaves a daemon behind outside its group (setsid), its output
 * not ours. The daemon prints its own pid ($$ survives the exec); the step
 * lingers a moment so that setsid has left the group before the group kill
 * at the step's end.
 */
static const char *const escaped_daemon_argv[] = { "/bin/sh", "-c",
	"setsid /bin/sh -c 'echo $$; exec sleep 300 >/dev/null 2>&1' & sleep 0.5", NULL };

/*
 * A step that leaves a process holding its stdout outside its group: setsid
 * leaves our group, so no group signal reaches it. The leader waits until
 * it has left (field 5 of stat, the pgid, is no longer ours), or our
 * SIGTERM at the leader's exit could come first. It prints the pid.
 */
static const char *const escaped_holder_argv[] = { "/bin/sh", "-c",
	"setsid sleep 20 & p=$!; echo $p; "
	"while [ \"$(cut -d' ' -f5 /proc/$p/stat)\" = $$ ]; do sleep 0.01; done",
	NULL };

static void test_proc__gives_up_on_escaped_holder(void **state)
{
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	assert_int_equal(run(&r, &c, escaped_holder_argv, 0, 200), 0);
	assert_false(printed_pid_gone(&c));
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	/* Grace, SIGKILL to the group, then a bounded wait for EOF. */
	assert_true(r.elapsed_ms >= 2000);
	assert_true(r.elapsed_ms < 5000);
	capture_dispose(&c);
}

struct canceller {
	int fd;
	unsigned after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;
	uint64_t one = 1;

	sleep_ms(k->after_ms);
	if (write(k->fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		abort();
	return NULL;
}

static void test_proc__cancel_via_eventfd(void **state)
{
	const char *const argv[] = { "sleep", "20", NULL };
	struct canceller k = { -1, 200 };
	struct proc_opts o = PROC_OPTS_INIT;
	struct proc_result r;
	pthread_t t;

	(void)state;
	k.fd = eventfd(0, EFD_CLOEXEC);
	assert_true(k.fd >= 0);
	assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
	o.argv = argv;
	o.envp = test_env;
	o.cancel_fd = k.fd;
	o.timeout_ms = 10000;
	assert_int_equal(proc_run(&r, &o), 0);
	pthread_join(t, NULL);
	close(k.fd);
	assert_true(r.cancelled);
	assert_false(r.timed_out);
	assert_int_equal(r.signal, SIGTERM);
	assert_true(r.elapsed_ms >= 150);
	assert_true(r.elapsed_ms < 3000);
	assert_string_equal(proc_result_describe(&r),
		"cancelled (killed by signal 15 (Terminated))");
}

/* The same endings through the waitid fallback used without pidfd_open. */
static void test_proc__works_without_pidfd(void **state)
{
	const char *const three[] = { "/bin/sh", "-c", "echo hi; exit 3", NULL };
	const char *const slow[] = { "sleep", "20", NULL };
	struct proc_result r;
	struct capture c = { 0 };

	(void)state;
	proc__no_pidfd = true;
	assert_int_equal(run(&r, &c, three, 0, 0), 0);
	assert_string_equal(c.data, "hi\n");
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(run(&r, &c, slow, 200, 0), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.signal, SIGTERM);
	assert_true(r.elapsed_ms < 3000);
	check_leftover_is_ended("sleep 20 & echo $!", 0);
	capture_dispose(&c);
}

/* Back to pidfd for the tests after, even when an assertion above ended the test early. */
static int pidfd_back_on(void **state)
{
	(void)state;
	proc__no_pidfd = false;
	return 0;
}

static void test_proc__no_fd_leak(void **state)
{
	const char *const ok[] = { "true", NULL };
	const char *const missing[] = { "da-proc-no-such-command", NULL };
	const char *const not_exec[] = { DA_SOURCE_DIR "/CMakeLists.txt", NULL };
	const char *const echo[] = { "/bin/sh", "-c", "echo x", NULL };
	struct proc_opts o = PROC_OPTS_INIT;
	struct proc_result r;
	struct capture c = { 0 };
	int before, after;

	(void)state;
	before = count_fds();
	for (int i = 0; i < 50; i++) {
		switch (i % 5) {
		case 0: assert_int_equal(run(&r, &c, ok, 0, 0), 0); break;
		case 1: assert_int_equal(run(&r, &c, missing, 0, 0), DA_ENOTFOUND); break;
		case 2: assert_int_equal(run(&r, &c, not_exec, 0, 0), DA_ENOTFOUND); break;
		case 3: assert_int_equal(run(&r, &c, echo, 0, 0), 0); break;
		case 4:
			o.argv = ok;
			o.envp = test_env;
			o.cwd = "/nonexistent/da-proc-cwd";
			assert_int_equal(proc_run(&r, &o), DA_ENOTFOUND);
			break;
		}
	}
	after = count_fds();
	assert_int_equal(before, after);
	assert_int_equal(c.len, 10 * 2);
	capture_dispose(&c);
}

struct parallel_run {
	const char *label;
	char script[128];
	struct proc_result r;
	struct capture c;
	int err;
};

static void *parallel_main(void *arg)
{
	struct parallel_run *p = arg;
	const char *const argv[] = { "/bin/sh", "-c", p->script, NULL };

	snprintf(p->script, sizeof(p->script), "echo start-%s; sleep 1; echo end-%s",
		 p->label, p->label);
	p->err = run(&p->r, &p->c, argv, 10000, 0);
	return NULL;
}

static void test_proc__parallel_runs_overlap(void **state)
{
	struct parallel_run a = { .label = "a" }, b = { .label = "b" };
	pthread_t ta, tb;
	uint64_t start = time_mono_ms(), total;

	(void)state;
	assert_int_equal(pthread_create(&ta, NULL, parallel_main, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, parallel_main, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	total = time_mono_ms() - start;

	assert_int_equal(a.err, 0);
	assert_int_equal(b.err, 0);
	assert_string_equal(a.c.data, "start-a\nend-a\n");
	assert_string_equal(b.c.data, "start-b\nend-b\n");
	assert_true(a.r.exited && b.r.exited);
	assert_true(a.r.elapsed_ms >= 1000 && b.r.elapsed_ms >= 1000);
	/*
	 * Each waited on its own child only: they ran side by side. One after
	 * the other would take at least the sum of the two runs, however slow
	 * the machine; a fixed bound (it was 1.5 s) fails under load instead.
	 */
	assert_true(total < a.r.elapsed_ms + b.r.elapsed_ms);
	capture_dispose(&a.c);
	capture_dispose(&b.c);
}

/* Last: every run above, failed execs included, was reaped. */
static void test_proc__leaves_no_zombies(void **state)
{
	int status;

	(void)state;
	assert_int_equal(count_children(), 0);
	errno = 0;
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}


/* A group of two sleepers of our own, as a crashed agent would leave it. */
static pid_t spawn_group(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		if (fork() == 0) {
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
			_exit(127);
		}
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* Does the group have a member that is not a zombie (a zombie is dead, only unreaped)? */
static bool group_alive(pid_t pgid)
{
	return count_procs(pgid) > 0;
}

static void test_proc__registry_records_groups_and_kills_leftovers(void **state)
{
	char *dir = xasprintf("%s/reg", tmpdir), *file, *cmd;
	/* The parent registers the group right after fork: the child waits to see it. */
	const char *argv[] = { "/bin/sh", "-c",
			       "for i in 1 2 3 4 5 6 7 8 9 10; do [ -n \"$(ls \"$REG\")\" ] && break; "
			       "sleep 0.1; done; ls \"$REG\" > \"$REG.seen\"", NULL };
	char *env_reg;
	const char *envp[2];
	struct proc_result r;
	pid_t pgid, young;
	FILE *f;
	int status;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(proc_set_registry(dir), 0);
	/* While a child runs its group is listed; once it is gone, so is the file. */
	env_reg = xasprintf("REG=%s", dir);
	envp[0] = env_reg;
	envp[1] = NULL;
	{
		struct proc_opts o = PROC_OPTS_INIT;

		o.argv = argv;
		o.envp = envp;
		assert_int_equal(proc_run(&r, &o), 0);
	}
	file = xasprintf("%s.seen", dir);
	f = fopen(file, "r");
	assert_non_null(f);
	{
		char line[64] = "";

		assert_non_null(fgets(line, sizeof(line), f));
		assert_int_equal(atol(line), (long)r.pid);
	}
	fclose(f);
	unlink(file);
	free(file);
	assert_int_equal(proc_kill_registered(dir), 0); /* nothing left registered */

	/* A registered group with its leader's start time: both members are killed. */
	pgid = spawn_group();
	sleep_ms(100);
	file = xasprintf("%s/%ld", dir, (long)pgid);
	cmd = xasprintf("awk '{print $22}' /proc/%ld/stat > %s", (long)pgid, file);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_true(group_alive(pgid));
	assert_int_equal(proc_kill_registered(dir), 2);
	assert_int_equal(waitpid(pgid, &status, 0), pgid);
	for (int i = 0; i < 50 && group_alive(pgid); i++)
		sleep_ms(20);
	assert_false(group_alive(pgid));
	assert_int_equal(access(file, F_OK), -1);
	free(file);

	/* A group that started before the recorded time is somebody else's reuse: left alone. */
	young = spawn_group();
	sleep_ms(100);
	file = xasprintf("%s/%ld", dir, (long)young);
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "%llu\n", 18446744073709551ULL);
	fclose(f);
	assert_int_equal(proc_kill_registered(dir), 0);
	assert_true(group_alive(young));
	kill(-young, SIGKILL);
	waitpid(young, &status, 0);
	free(file);
	assert_int_equal(proc_set_registry(NULL), 0);
	free(env_reg);
	free(dir);
}

/* A process that left its group (setsid) survives the group kill; as its subreaper we end it. */
static void test_proc__sweep_ends_escaped_orphans(void **state)
{
	struct proc_opts o = PROC_OPTS_INIT;
	struct proc_result r;
	struct capture out = { 0 };
	pid_t escaped;

	(void)state;
	assert_int_equal(proc_set_subreaper(), 0);
	(void)proc_sweep_orphans(false);                 /* earlier tests' zombies, if any */
	o.argv = escaped_daemon_argv;
	o.envp = test_env;
	o.on_output = capture_cb;
	o.payload = &out;
	assert_int_equal(proc_run(&r, &o), 0);
	escaped = first_line_pid(&out);
	assert_true(escaped > 1);
	assert_int_equal(kill(escaped, 0), 0);           /* outside the group: still alive */
	(void)proc_sweep_orphans(false);                 /* reaps zombies only */
	assert_int_equal(kill(escaped, 0), 0);           /* alive and not told to kill */
	assert_true(proc_sweep_orphans(true) >= 1);      /* ours now (subreaper): ended and reaped */
	assert_int_equal(kill(escaped, 0), -1);
	assert_int_equal(errno, ESRCH);
	capture_dispose(&out);
}

/*
 * Steps in cgroups (cgroup.h): only where this host lets us make them; the
 * tests are skipped elsewhere (*state NULL), and say so.
 */
static int cgroup_on(void **state)
{
	static int on = 1;
	const char *why;

	char name[64];

	*state = NULL;
	snprintf(name, sizeof(name), "dataops-unittest-%ld", (long)getpid());
	if (cgroup_setup("auto", name, &why) != 1)
		print_message("cgroup v2 not usable here (%s): skipped\n", why);
	else
		*state = &on;
	return 0;
}

static int cgroup_off(void **state)
{
	const char *why;

	(void)state;
	(void)cgroup_setup("off", NULL, &why);
	return 0;
}

static bool step_cgroup_exists(pid_t leader)
{
	char *path = xasprintf("%s/dataops-step-%ld", cgroup_parent(), (long)leader);
	bool exists = access(path, F_OK) == 0;

	free(path);
	return exists;
}

/*
 * Run argv, which prints the pid of a process it detached (setsid) on its
 * first line: that process ends with the step, and so does its cgroup.
 */
static void assert_detached_ends_with_step(struct proc_result *r, const char *const *argv,
					   unsigned grace_ms)
{
	struct capture out = { 0 };

	assert_int_equal(run(r, &out, argv, 0, grace_ms), 0);
	assert_true(printed_pid_gone(&out));
	assert_true(r->exited);
	assert_int_equal(r->exit_code, 0);
	assert_false(step_cgroup_exists(r->pid));
	capture_dispose(&out);
}

/* What a process group cannot hold, the step's cgroup does: setsid'd daemons end with the step. */
static void test_proc__cgroup_ends_escaped_at_step_end(void **state)
{
	struct proc_result r;

	if (*state == NULL)
		skip();
	assert_detached_ends_with_step(&r, escaped_daemon_argv, 0);
}

/* An escaped process holding our stdout is ended at once, not waited out for the drain bound. */
static void test_proc__cgroup_ends_escaped_holder(void **state)
{
	struct proc_result r;

	if (*state == NULL)
		skip();
	assert_detached_ends_with_step(&r, escaped_holder_argv, 5000);
	/* SIGTERM reached it through the cgroup: not the 5 s grace and 2 s drain bound. */
	assert_true(r.elapsed_ms < 4000);
}

/*
 * Move pid into the cgroup name and register that cgroup in regdir as a
 * crashed agent would have, with a group long gone (pid 2^22 + 1 is past
 * the largest pid_max). Returns the cgroup's path.
 */
static char *enter_and_register(const char *regdir, const char *name, pid_t pid)
{
	char *cg = cgroup_enter(name, pid), *file;
	FILE *f;

	assert_non_null(cg);
	assert_true(cgroup_populated(cg));
	file = xasprintf("%s/%d", regdir, 4194305);
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "0\n%s\n", cg);
	fclose(f);
	free(file);
	return cg;
}

/* After a crash, the registry's cgroup reaches the process that left the registered group. */
static void test_proc__cgroup_registry_kills_escaped(void **state)
{
	char *dir, *cg, *other, name[64];
	pid_t escaped;
	int status;

	if (*state == NULL)
		skip();
	dir = xasprintf("%s/cgreg", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	escaped = fork();
	assert_true(escaped >= 0);
	if (escaped == 0) {
		setsid();
		execl("/bin/sleep", "sleep", "20", (char *)NULL);
		_exit(127);
	}
	/* A cgroup not named as a step's is not ours to kill, whatever the file says. */
	snprintf(name, sizeof(name), "other-test-%ld", (long)escaped);
	other = enter_and_register(dir, name, escaped);
	assert_int_equal(proc_kill_registered(dir), 0);
	assert_true(cgroup_populated(other));

	snprintf(name, sizeof(name), "dataops-step-test-%ld", (long)escaped);
	cg = enter_and_register(dir, name, escaped);
	assert_int_equal(rmdir(other), 0); /* empty since the move */
	assert_int_equal(proc_kill_registered(dir), 1);
	assert_int_equal(waitpid(escaped, &status, 0), escaped);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(access(cg, F_OK), -1);
	assert_int_equal(rmdir(dir), 0); /* the entry is gone too */
	free(dir);
	free(other);
	free(cg);
}

/* Step cgroups whose leader is gone are a crashed agent's: pruned with what is in them. */
static void test_proc__cgroup_prune_takes_dead_leaders_only(void **state)
{
	char *live, *empty, *stale = NULL, name[64];
	pid_t left;
	int status;

	if (*state == NULL)
		skip();
	left = fork();
	assert_true(left >= 0);
	if (left == 0) {
		execl("/bin/sleep", "sleep", "20", (char *)NULL);
		_exit(127);
	}
	/* Leader 4194305 (past the default pid_max) is gone: one populated, one empty. */
	stale = cgroup_enter(PROC_CGROUP_PREFIX "4194305", left);
	assert_non_null(stale);
	empty = xasprintf("%s/" PROC_CGROUP_PREFIX "4194306", cgroup_parent());
	assert_int_equal(mkdir(empty, 0755), 0);
	/* Our own pid as the leader: alive, so not ours to prune. */
	snprintf(name, sizeof(name), PROC_CGROUP_PREFIX "%ld", (long)getpid());
	live = xasprintf("%s/%s", cgroup_parent(), name);
	assert_int_equal(mkdir(live, 0755), 0);

	assert_int_equal(cgroup_prune(PROC_CGROUP_PREFIX), 2);
	assert_int_equal(waitpid(left, &status, 0), left);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(empty, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(rmdir(live), 0);
	free(live);
	free(empty);
	free(stale);
}

/* A cgroup setting that cannot work is refused, naming itself; auto without one is not an error. */
static void test_proc__cgroup_setup_refuses_bad_values(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(cgroup_setup("cgroups please", "t", &why), DA_EINVALID);
	assert_non_null(strstr(error_last(), "[agent] cgroup: 'cgroups please' is not auto, off"));
	assert_int_equal(cgroup_setup("/nonexistent/cgroup", "t", &why), DA_EINVALID);
	assert_non_null(strstr(error_last(), "/nonexistent/cgroup"));
	assert_int_equal(cgroup_setup("/tmp", "t", &why), DA_EINVALID);
	assert_non_null(strstr(error_last(), "is not a cgroup v2 directory"));
	assert_null(cgroup_parent());
	assert_int_equal(cgroup_setup("off", NULL, &why), 0);
	assert_string_equal(why, "[agent] cgroup = off");
	assert_null(cgroup_enter("dataops-step-1", getpid()));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc__captures_output_exactly),
		cmocka_unit_test(test_proc__streams_large_output_in_chunks),
		cmocka_unit_test(test_proc__reports_exit_codes),
		cmocka_unit_test(test_proc__reports_killing_signal),
		cmocka_unit_test(test_proc__command_not_found),
		cmocka_unit_test(test_proc__bad_cwd_names_it),
		cmocka_unit_test(test_proc__environment_is_exactly_envp),
		cmocka_unit_test(test_proc__argv_passed_literally),
		cmocka_unit_test(test_proc__child_gets_only_stdio),
		cmocka_unit_test(test_proc__child_starts_with_default_signals),
		cmocka_unit_test(test_proc__stdin_is_dev_null),
		cmocka_unit_test(test_proc__timeout_terms_the_child),
		cmocka_unit_test(test_proc__timeout_kills_the_whole_group),
		cmocka_unit_test(test_proc__sigkill_after_grace),
		cmocka_unit_test(test_proc__leader_exit_ends_leftovers),
		cmocka_unit_test(test_proc__final_kill_ends_detached_members),
		cmocka_unit_test(test_proc__gives_up_on_escaped_holder),
		cmocka_unit_test(test_proc__cancel_via_eventfd),
		cmocka_unit_test_teardown(test_proc__works_without_pidfd, pidfd_back_on),
		cmocka_unit_test(test_proc__registry_records_groups_and_kills_leftovers),
		cmocka_unit_test(test_proc__sweep_ends_escaped_orphans),
		cmocka_unit_test(test_proc__no_fd_leak),
		cmocka_unit_test(test_proc__parallel_runs_overlap),
		cmocka_unit_test(test_proc__leaves_no_zombies),
		cmocka_unit_test(test_proc__cgroup_setup_refuses_bad_values),
		cmocka_unit_test_setup_teardown(test_proc__cgroup_ends_escaped_at_step_end, cgroup_on, cgroup_off),
		cmocka_unit_test_setup_teardown(test_proc__cgroup_ends_escaped_holder, cgroup_on, cgroup_off),
		cmocka_unit_test_setup_teardown(test_proc__cgroup_registry_kills_escaped, cgroup_on, cgroup_off),
		cmocka_unit_test_setup_teardown(test_proc__cgroup_prune_takes_dead_leaders_only, cgroup_on, cgroup_off),
	};
	/* The registry tests' directories are under tmpdir: gone even after a failure. */
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
