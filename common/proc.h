/*
 * proc.h - run one child process to completion, streaming its output.
 *
 * The child runs from argv (never through a shell unless argv says
 * /bin/sh -c), in its own process group, with exactly the environment
 * given, stdin from /dev/null, stdout and stderr merged into one pipe,
 * and no descriptor of ours but 0, 1 and 2 (a CLOEXEC status pipe reports
 * a failed exec precisely; see STYLE.md point 21: the pid is stored before
 * anything can fail and the child leaves with _exit).
 *
 * proc_run() reads the pipe as data arrives and hands each chunk to the
 * output callback at once: the child never waits on us longer than the
 * callback takes. It waits on the pipe, a pidfd for the child's exit and
 * an optional cancel fd, all with poll(); no SIGCHLD handler is needed, so
 * several threads may each run a child at once.
 *
 * Ending: on timeout or cancel the whole group gets SIGTERM, then SIGKILL
 * after grace_ms. When the leader exits, whatever it left in its group
 * (background processes) gets SIGTERM, then SIGKILL after grace_ms, so the
 * pipe reaches EOF and no process outlives its step. With cgroups set up
 * (cgroup.h), the child is also moved into a cgroup of its own before it
 * runs anything; its signals reach the whole cgroup too, and at the end
 * the cgroup is killed and removed, so what left the group (setsid) ends
 * with the step as well. The leader is always
 * reaped with waitpid on its own pid (never -1 or 0: other threads' children
 * are not ours to reap).
 */
#ifndef DA_PROC_H
#define DA_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A step's cgroup is <cgroup_parent()>/dataops-step-<leader pid> (cgroup.h). */
#define PROC_CGROUP_PREFIX "dataops-step-"

/* Called with each chunk of output as it is read. */
typedef void proc_output_cb(const char *data, size_t len, void *payload);

struct proc_opts {
	const char *const *argv; /* argv[0]: a path, or a name searched in the PATH of envp */
	const char *const *envp; /* the child's whole environment; NULL = empty */
	const char *cwd;         /* NULL = ours */
	unsigned timeout_ms;     /* 0 = none */
	unsigned grace_ms;       /* SIGTERM -> SIGKILL delay; 0 = 5000 */
	int cancel_fd;           /* readable => cancel (e.g. an eventfd); -1 = none */
	proc_output_cb *on_output;
	void *payload;
};

#define PROC_OPTS_INIT { NULL, NULL, NULL, 0, 0, -1, NULL, NULL }

struct proc_result {
	pid_t pid;
	bool exited;      /* true: exit_code is valid; false: killed by signal */
	int exit_code;
	int signal;       /* the signal that ended the leader, when !exited */
	bool timed_out;   /* we ended it because timeout_ms passed */
	bool cancelled;   /* we ended it because cancel_fd became readable */
	unsigned long elapsed_ms;
	unsigned timeout_ms; /* the limit applied (for describe: elapsed_ms includes the grace) */
};

/*
 * Run the child to completion. Returns 0 when the child was started and
 * reaped (whatever its result: see *out); DA_ENOTFOUND when argv[0] cannot
 * be found or executed, DA_ERROR when it could not be started, with a
 * message naming argv[0] and the reason.
 */
int proc_run(struct proc_result *out, const struct proc_opts *opts);

/* "exit code 3", "signal 9 (Killed)", "timed out after 10 s", ... (static buffer per thread). */
const char *proc_result_describe(const struct proc_result *r);

/*
 * Process groups that must not outlive the agent. A leader dies with the
 * agent (PR_SET_PDEATHSIG), but what it started in its group would
 * survive a SIGKILL of the agent. With a registry directory set, proc_run
 * writes <dir>/<pgid> (the leader's start time) as soon as the child is
 * started and removes it once the group is gone; after a crash,
 * proc_kill_registered() kills what is left of each registered group
 * (only processes of that group that started no earlier than its leader,
 * so a reused id is never hit) and the step's cgroup named with it, and
 * clears the directory. Set it once, at
 * start, before any child runs; NULL turns it off.
 */
int proc_set_registry(const char *dir);
/* Kill leftovers of registered groups; the number of processes killed, or DA_E*. */
int proc_kill_registered(const char *dir);

/*
 * Processes that leave their group (setsid, a double fork) escape the
 * group kill where there is no cgroup. With the agent as their subreaper (proc_set_subreaper) they
 * become its children when their parent dies, instead of init's, and
 * proc_sweep_orphans finds them: every child of ours that no proc_run is
 * waiting for. Zombies among them are reaped; with kill_live the living
 * ones (and their groups) get SIGKILL and are reaped too. Call it with
 * kill_live only when no run is going, or it would end another run's
 * daemon. Returns how many it reaped.
 */
int proc_set_subreaper(void);
int proc_sweep_orphans(bool kill_live);

/* Tests only: when true, wait as if pidfd_open were missing (waitid polling). */
extern bool proc__no_pidfd;

#endif
