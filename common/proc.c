/*
 * proc.c - run one child process to completion, streaming its output.
 *
 * Life of a run (see proc.h for the contract):
 *
 *   parent                                child
 *   resolve argv[0] in envp's PATH
 *   pipes (CLOEXEC), buffers, arrays
 *   block all signals, fork ------------> PDEATHSIG, setpgid(0, 0),
 *   store pid, setpgid(pid, pid)          default dispositions, empty mask,
 *   restore the mask                      stdin /dev/null, pipe on 1 and 2,
 *   read the status pipe  <-------------- status pipe on 3, chdir, close >= 4,
 *     EOF: exec worked                    execve; on failure errno -> fd 3,
 *     errno: reap, report                 _exit(127)
 *   poll(output, pidfd, cancel_fd)
 *   leader exited and EOF: SIGKILL the group once, reap the leader
 *
 * Everything the child needs is built before fork: in a threaded program
 * the child may only make async-signal-safe calls (no malloc, no stdio,
 * no locks another thread might have held at fork time).
 *
 * No SIGCHLD handler and no waitpid(-1) or waitpid(0): other threads run
 * children of their own at the same time, and their exit statuses are not
 * ours to take. We learn of our leader's exit from a pidfd (Linux >= 5.3),
 * or by polling waitid(WNOWAIT) every PROC_POLL_MS where there is none.
 *
 * The leader is reaped last, after its group got its final SIGKILL: while
 * the leader is an unreaped zombie its pid cannot be handed to a new
 * process, so kill(-pid) cannot reach a group some other run just made.
 */
#define _GNU_SOURCE /* pipe2 */

#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cgroup.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define PROC_CHUNK (64 * 1024)          /* one read, one callback */
#define PROC_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define PROC_DEFAULT_GRACE_MS 5000u
#define PROC_POLL_MS 20                 /* waitid polling without a pidfd */
#define PROC_DRAIN_MS 2000u             /* after the last SIGKILL, see proc_wait */
#define PROC_FD_CAP 65536               /* close loop bound without close_range */
#define PROC_STATUS_FD 3
#define PROC_CGROUP_WAIT_MS 2000u       /* for a killed step cgroup to empty */

/* What the child tells the parent through the status pipe before dying. */
enum proc_stage {
	PROC_STAGE_SETUP = 1, /* dup2, open /dev/null */
	PROC_STAGE_CHDIR,
	PROC_STAGE_EXEC,
};

struct proc_report {
	int stage; /* enum proc_stage */
	int err;   /* errno */
};

/* Everything the child reads, prepared by the parent before fork. */
struct proc_spawn {
	const char *path;   /* resolved argv[0] */
	char *const *argv;
	char *const *envp;
	const char *cwd;    /* NULL: stay */
	int out_w;          /* write end of the output pipe */
	int status_w;       /* write end of the status pipe (CLOEXEC) */
	pid_t parent;
	int fd_max;         /* close loop bound when close_range is missing */
	int go_r;           /* read end of the go pipe: the parent has registered the group */
};

/* The waiting state of one started child. */
struct proc_wait {
	pid_t pid;
	const char *cgroup;  /* the step's cgroup (cgroup.h), NULL: none */
	int out_fd;          /* read end, non-blocking; -1 after EOF */
	int pidfd;           /* -1: poll with waitid */
	int cancel_fd;       /* -1: none */
	unsigned grace_ms;
	uint64_t deadline;   /* timeout, 0 = none */
	uint64_t kill_at;    /* SIGKILL the group then, once term_sent */
	uint64_t give_up_at; /* stop waiting for EOF, 0 = not yet armed */
	bool exited;         /* the leader is a zombie waiting to be reaped */
	bool term_sent;
	bool kill_sent;
};

bool proc__no_pidfd;

/* execve's prototype predates const; it never writes the arrays. */
static char *const *proc_unconst(const char *const *v)
{
	union {
		const char *const *c;
		char *const *m;
	} u;

	u.c = v;
	return u.m;
}

static void proc_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* The PATH the child will see, not ours: the step's environment decides. */
static const char *proc_env_path(const char *const *envp)
{
	if (envp != NULL) {
		for (size_t i = 0; envp[i] != NULL; i++) {
			if (strncmp(envp[i], "PATH=", 5) == 0)
				return envp[i] + 5;
		}
	}
	return PROC_DEFAULT_PATH;
}

/*
 * Find argv[0] as execvp would, but here in the parent, where we may
 * allocate and can say which PATH was searched. A name with a slash is
 * used as it is (relative to the child's cwd); exec reports its errors.
 * Returns a new string, or NULL with the message set.
 */
static char *proc_resolve(const char *name, const char *const *envp)
{
	const char *path = proc_env_path(envp), *p = path;
	struct stat st;

	if (name[0] == '\0') {
		error_set("cannot run '': empty command name");
		return NULL;
	}
	if (strchr(name, '/') != NULL)
		return xstrdup(name);

	while (*p != '\0') {
		size_t len = strcspn(p, ":");

		/*
		 * Empty and relative entries would resolve against whatever
		 * directory the step runs in, letting a workspace plant a
		 * binary under a common name: skip them.
		 */
		if (len > 0 && p[0] == '/') {
			char *cand = xasprintf("%.*s/%s", (int)len, p, name);

			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		p += len;
		if (*p == ':')
			p++;
	}
	error_set("cannot run '%s': not found in PATH %s", name, path);
	return NULL;
}

/* Child only: report how we failed and leave without running atexit handlers. */
static void __attribute__((noreturn)) proc_child_fail(int fd, int stage)
{
	struct proc_report rep;
	ssize_t n;

	rep.stage = stage;
	rep.err = errno;
	/* Smaller than PIPE_BUF: one write, whole or nothing. */
	do
		n = write(fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/* Child only: close every descriptor from `from` up. */
static void proc_child_close_from(int from, int fd_max)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)from, ~0u, 0u) == 0)
		return;
#endif
	for (int fd = from; fd < fd_max; fd++)
		close(fd);
}

/*
 * Child only, between fork and exec: async-signal-safe calls only
 * (see the top of the file). Never returns.
 */
static void __attribute__((noreturn)) proc_child(const struct proc_spawn *s)
{
	struct sigaction sa;
	sigset_t none;
	int st, out, nul;

	/* Die with the agent's thread rather than run unsupervised. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != s->parent)
		_exit(127); /* the parent was gone before prctl took effect */

	/* Own group, so timeouts and cancels reach grandchildren too. */
	setpgid(0, 0);

	/*
	 * Nothing of the step runs before the parent has written the group
	 * down (proc_set_registry): a crash of the agent in between would
	 * otherwise leave what the step starts unknown to the next agent. If
	 * the parent dies first, PDEATHSIG ends this wait.
	 */
	if (s->go_r >= 0) {
		char go;

		while (read(s->go_r, &go, 1) < 0 && errno == EINTR)
			;
	}

	/*
	 * Ignored signals stay ignored across exec (the agent ignores
	 * SIGPIPE, say); a step must start with the defaults. Signals were
	 * blocked around fork so no handler of ours runs in here.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* EINVAL for libc's own: fine */
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/*
	 * Lift both pipe ends to 10 and up first: if the agent ran with 0-2
	 * closed, pipe2 may have handed us one of them, and dup2 of a fd
	 * onto itself would keep its CLOEXEC flag.
	 */
	st = fcntl(s->status_w, F_DUPFD_CLOEXEC, 10);
	if (st < 0)
		proc_child_fail(s->status_w, PROC_STAGE_SETUP);
	out = fcntl(s->out_w, F_DUPFD_CLOEXEC, 10);
	if (out < 0)
		proc_child_fail(st, PROC_STAGE_SETUP);
	nul = open("/dev/null", O_RDONLY); /* not CLOEXEC: it may land on 0 */
	if (nul < 0)
		proc_child_fail(st, PROC_STAGE_SETUP);
	if (dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		proc_child_fail(st, PROC_STAGE_SETUP);
	/* Keep the status pipe open (and CLOEXEC) past the close below. */
	if (dup2(st, PROC_STATUS_FD) < 0 ||
	    fcntl(PROC_STATUS_FD, F_SETFD, FD_CLOEXEC) < 0)
		proc_child_fail(st, PROC_STAGE_SETUP);
	st = PROC_STATUS_FD;

	if (s->cwd != NULL && chdir(s->cwd) < 0)
		proc_child_fail(st, PROC_STAGE_CHDIR);

	/* No agent descriptor (sockets, spool files, secrets) reaches a job. */
	proc_child_close_from(PROC_STATUS_FD + 1, s->fd_max);

	execve(s->path, s->argv, s->envp);
	proc_child_fail(st, PROC_STAGE_EXEC);
}

/* Read the child's report: true when it failed (and *rep says how). */
static bool proc_read_report(int fd, struct proc_report *rep)
{
	size_t got = 0;

	while (got < sizeof(*rep)) {
		ssize_t n = read(fd, (char *)rep + got, sizeof(*rep) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	/* EOF before a whole report: the exec closed the pipe, it worked. */
	return got == sizeof(*rep);
}

/* Signal the whole group; it may be gone already (ESRCH), or part of it
 * may have changed uid (EPERM): neither is ours to report. */
static void proc_signal_group(pid_t pid, int sig)
{
	(void)kill(-pid, sig);
}

/* The group, and what left it but not the step's cgroup (setsid). */
static void proc_signal_step(const struct proc_wait *w, int sig)
{
	proc_signal_group(w->pid, sig);
	if (w->cgroup != NULL)
		(void)cgroup_signal(w->cgroup, sig);
}

static int proc_reap(pid_t pid, int *status)
{
	for (;;) {
		if (waitpid(pid, status, 0) == pid)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Start the SIGTERM, SIGKILL-after-grace sequence. */
static void proc_terminate(struct proc_wait *w, uint64_t now)
{
	proc_signal_step(w, SIGTERM);
	w->term_sent = true;
	w->kill_at = now + w->grace_ms;
}

/* Lower *timeout (ms, -1 = none) so poll wakes at `when`. */
static void proc_wake_at(int *timeout, uint64_t when, uint64_t now)
{
	uint64_t ms = when > now ? when - now : 0;
	int t = ms > INT_MAX ? INT_MAX : (int)ms;

	if (*timeout < 0 || t < *timeout)
		*timeout = t;
}

/* Has the leader exited? Without reaping it (WNOWAIT), see the top. */
static bool proc_poll_exit(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD; /* cannot happen; do not spin on it */
	return si.si_pid != 0;
}

/*
 * Read output and watch the clocks until the leader has exited and the
 * pipe reached EOF. Returns 0, or DA_ERROR when poll itself failed (the
 * group was killed then). The caller reaps.
 */
static int proc_wait(struct proc_wait *w, struct proc_result *r,
		     const struct proc_opts *opts, char *chunk)
{
	for (;;) {
		struct pollfd pfd[3];
		int nfds = 0, i_out = -1, i_pid = -1, i_cancel = -1;
		int timeout = -1, n;
		uint64_t now = time_mono_ms();

		if (w->exited && w->out_fd < 0)
			return 0;
		if (!w->term_sent && w->deadline != 0 && now >= w->deadline) {
			r->timed_out = true;
			proc_terminate(w, now);
		}
		if (w->term_sent && !w->kill_sent && now >= w->kill_at) {
			proc_signal_step(w, SIGKILL);
			w->kill_sent = true;
		}
		/*
		 * The group is dead and the leader too, yet the pipe is still
		 * open: a process left the group (setsid) holding our stdout.
		 * Without a cgroup we cannot kill it; waiting for it would hang
		 * the step.
		 */
		if (w->exited && w->kill_sent) {
			if (w->give_up_at == 0)
				w->give_up_at = now + PROC_DRAIN_MS;
			if (now >= w->give_up_at) {
				proc_close(&w->out_fd);
				return 0;
			}
			proc_wake_at(&timeout, w->give_up_at, now);
		}
		if (!w->term_sent && w->deadline != 0)
			proc_wake_at(&timeout, w->deadline, now);
		if (w->term_sent && !w->kill_sent)
			proc_wake_at(&timeout, w->kill_at, now);
		if (!w->exited && w->pidfd < 0)
			proc_wake_at(&timeout, now + PROC_POLL_MS, now);

		if (w->out_fd >= 0) {
			pfd[nfds] = (struct pollfd){ .fd = w->out_fd, .events = POLLIN };
			i_out = nfds++;
		}
		if (!w->exited && w->pidfd >= 0) {
			pfd[nfds] = (struct pollfd){ .fd = w->pidfd, .events = POLLIN };
			i_pid = nfds++;
		}
		/* Once we are ending it, a still-readable cancel fd would spin us. */
		if (w->cancel_fd >= 0 && !w->term_sent) {
			pfd[nfds] = (struct pollfd){ .fd = w->cancel_fd, .events = POLLIN };
			i_cancel = nfds++;
		}

		n = poll(pfd, (nfds_t)nfds, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error_set_errno("cannot watch '%s' (pid %ld): poll",
					opts->argv[0], (long)w->pid);
			proc_signal_step(w, SIGKILL);
			return DA_ERROR;
		}
		now = time_mono_ms();

		if (i_out >= 0 && pfd[i_out].revents != 0) {
			/* One read per wakeup, so the clocks stay checked under a flood. */
			ssize_t got = read(w->out_fd, chunk, PROC_CHUNK);

			if (got > 0) {
				if (opts->on_output != NULL)
					opts->on_output(chunk, (size_t)got, opts->payload);
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				proc_close(&w->out_fd);
			}
		}
		if (i_pid >= 0 && pfd[i_pid].revents != 0) {
			w->exited = true;
			proc_close(&w->pidfd);
		} else if (!w->exited && w->pidfd < 0 && proc_poll_exit(w->pid)) {
			w->exited = true;
		}
		/* Any event counts: a closed pipe or a bad fd must not spin us either. */
		if (i_cancel >= 0 && pfd[i_cancel].revents != 0 && !w->term_sent) {
			r->cancelled = true;
			proc_terminate(w, now);
		}
		/*
		 * The leader is gone but something it left behind (a background
		 * job) still holds the pipe: no process outlives its step.
		 */
		if (w->exited && w->out_fd >= 0 && !w->term_sent)
			proc_terminate(w, now);
	}
}

/* ------------------------------------------- leaders, orphans, reaping */

/*
 * The leaders proc_run has forked and not yet reaped. A sweep for orphans
 * must never take one of them: a leader is added under this lock in the
 * same breath as its fork, and removed once reaped.
 */
static pthread_mutex_t proc_leaders_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *proc_leaders;
static size_t proc_nleaders, proc_leaders_cap;

static void proc_leader_add(pid_t pid)
{
	if (proc_nleaders == proc_leaders_cap) {
		proc_leaders_cap = proc_leaders_cap ? proc_leaders_cap * 2 : 16;
		proc_leaders = xreallocarray(proc_leaders, proc_leaders_cap, sizeof(*proc_leaders));
	}
	proc_leaders[proc_nleaders++] = pid;
}

static void proc_leader_remove(pid_t pid)
{
	pthread_mutex_lock(&proc_leaders_lock);
	for (size_t i = 0; i < proc_nleaders; i++) {
		if (proc_leaders[i] == pid) {
			proc_leaders[i] = proc_leaders[--proc_nleaders];
			break;
		}
	}
	pthread_mutex_unlock(&proc_leaders_lock);
}

static bool proc_leader_has(pid_t pid)
{
	for (size_t i = 0; i < proc_nleaders; i++)
		if (proc_leaders[i] == pid)
			return true;
	return false;
}

int proc_set_subreaper(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0) {
		error_set_errno("cannot become the subreaper of the runs' processes");
		return DA_ERROR;
	}
	return 0;
}

/* What the sweep and the registry read of a process, from /proc/<pid>/stat. */
struct proc_info {
	char state;                /* field 3: 'Z' for a zombie */
	pid_t ppid;                /* field 4 */
	pid_t pgrp;                /* field 5 */
	unsigned long long start;  /* field 22: start time in clock ticks since boot */
};

/* false when the process is gone (or the file is not what it should be). */
static bool proc_info_read(pid_t pid, struct proc_info *info)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return false;
	memset(info, 0, sizeof(*info));
	info->state = p[2];
	for (field = 3, p += 2; field <= 22; field++) {
		if (field == 4)
			info->ppid = (pid_t)strtol(p, NULL, 10);
		else if (field == 5)
			info->pgrp = (pid_t)strtol(p, NULL, 10);
		else if (field == 22)
			info->start = strtoull(p, NULL, 10);
		p = strchr(p, ' ');
		if (p == NULL)
			return false;
		p++;
	}
	return true;
}

int proc_sweep_orphans(bool kill_live)
{
	pid_t self = getpid();
	DIR *d;
	struct dirent *e;
	int n = 0;

	pthread_mutex_lock(&proc_leaders_lock);
	d = opendir("/proc");
	while (d && (e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		struct proc_info info;
		int status;

		if (*end != '\0' || pid <= 1 || !proc_info_read((pid_t)pid, &info) ||
		    info.ppid != self || proc_leader_has((pid_t)pid))
			continue;
		if (info.state != 'Z') {
			if (!kill_live)
				continue;
			/* Its group too: it may have started helpers of its own. */
			kill(-(pid_t)pid, SIGKILL);
			kill((pid_t)pid, SIGKILL);
		}
		/* Ours to reap: it is a child of ours and no proc_run waits for it. */
		for (int i = 0; i < 100; i++) {
			if (waitpid((pid_t)pid, &status, WNOHANG) != 0)
				break;
			nanosleep(&(struct timespec){ 0, 10000000L }, NULL);
		}
		n++;
	}
	if (d)
		closedir(d);
	pthread_mutex_unlock(&proc_leaders_lock);
	return n;
}

static void proc_register(pid_t pgid, const char *cgroup, bool add);

/*
 * Fork and exec; on success *pid is the started child (its group leader)
 * and *cgroup its cgroup's directory (to free), or NULL without one.
 */
static int proc_start(pid_t *pid, char **cgroup, struct proc_result *out,
		      const struct proc_opts *opts, int out_pipe[2])
{
	static const char *const no_env[] = { NULL };
	const char *name = opts->argv[0];
	struct proc_spawn sp;
	struct proc_report rep;
	sigset_t all, old;
	int st_pipe[2] = { -1, -1 }, go[2] = { -1, -1 };
	char *path = NULL;
	long open_max;
	int err = DA_ERROR, saved;
	pid_t child;

	*pid = -1;
	path = proc_resolve(name, opts->envp);
	if (path == NULL) {
		err = DA_ENOTFOUND;
		goto out;
	}
	/* CLOEXEC: another thread's child must not keep our pipes open. */
	if (pipe2(st_pipe, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		error_set_errno("cannot run '%s': pipe", name);
		goto out;
	}
	open_max = sysconf(_SC_OPEN_MAX);
	sp.path = path;
	sp.argv = proc_unconst(opts->argv);
	sp.envp = proc_unconst(opts->envp != NULL ? opts->envp : no_env);
	sp.cwd = opts->cwd;
	sp.out_w = out_pipe[1];
	sp.status_w = st_pipe[1];
	sp.parent = getpid();
	sp.fd_max = open_max < 0 || open_max > PROC_FD_CAP ? PROC_FD_CAP : (int)open_max;
	sp.go_r = go[0];

	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* A leader is known as one from its first instant (proc_sweep_orphans). */
	pthread_mutex_lock(&proc_leaders_lock);
	child = fork();
	if (child == 0)
		proc_child(&sp);
	saved = errno;
	if (child > 0)
		proc_leader_add(child);
	pthread_mutex_unlock(&proc_leaders_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (child < 0) {
		errno = saved;
		error_set_errno("cannot run '%s': fork", name);
		goto out;
	}
	/* Stored before anything else can fail (STYLE.md, "Do not copy" 1). */
	*pid = child;
	out->pid = child;
	/* The child does this too; whoever runs first wins the race to kill(-pid). */
	setpgid(child, child);
	/* Before the go too: everything the step starts is born in its cgroup. */
	if (cgroup_parent() != NULL) {
		char cgname[64];

		snprintf(cgname, sizeof(cgname), PROC_CGROUP_PREFIX "%ld", (long)child);
		*cgroup = cgroup_enter(cgname, child);
		if (*cgroup == NULL)
			log_warn("'%s' runs in its process group only: %s", name, error_last());
	}
	/* Written down before the child may start anything (it waits for go). */
	proc_register(child, *cgroup, true);
	if (write(go[1], "g", 1) != 1)
		(void)0;   /* the child is gone already: its report says why */
	proc_close(&go[0]);
	proc_close(&go[1]);

	proc_close(&out_pipe[1]);
	proc_close(&st_pipe[1]);
	if (proc_read_report(st_pipe[0], &rep)) {
		int status;

		if (*cgroup != NULL) {
			if (cgroup_destroy(*cgroup, PROC_CGROUP_WAIT_MS) != 0)
				log_warn("%s", error_last());
			free(*cgroup);
			*cgroup = NULL;
		}
		(void)proc_reap(child, &status);
		proc_leader_remove(child);
		proc_register(child, NULL, false);
		*pid = -1;
		err = rep.err == ENOENT || rep.err == ENOTDIR ||
		      (rep.stage == PROC_STAGE_EXEC && rep.err == EACCES) ?
			      DA_ENOTFOUND : DA_ERROR;
		switch ((enum proc_stage)rep.stage) {
		case PROC_STAGE_CHDIR:
			error_set("cannot run '%s' in %s: %s", name, opts->cwd,
				  strerror(rep.err));
			break;
		case PROC_STAGE_EXEC:
			if (strcmp(path, name) != 0)
				error_set("cannot run '%s' (%s): %s", name, path,
					  strerror(rep.err));
			else
				error_set("cannot run '%s': %s", name, strerror(rep.err));
			break;
		case PROC_STAGE_SETUP:
			error_set("cannot run '%s': setting up the child: %s", name,
				  strerror(rep.err));
			break;
		}
		goto out;
	}
	err = 0;
out:
	proc_close(&st_pipe[0]);
	proc_close(&st_pipe[1]);
	proc_close(&go[0]);
	proc_close(&go[1]);
	free(path);
	return err;
}

/* ------------------------------------------------- the group registry */

static char *proc_registry;     /* set once at start, read by every proc_run */

int proc_set_registry(const char *dir)
{
	free(proc_registry);
	proc_registry = NULL;
	if (dir == NULL)
		return 0;
	if (fs_mkdir_p(dir, 0700) < 0)
		return DA_ERROR;
	proc_registry = xstrdup(dir);
	return 0;
}

/* <dir>/<pgid>: the leader's start time, then the step's cgroup if it has one. */
static void proc_register(pid_t pgid, const char *cgroup, bool add)
{
	char *path;
	struct proc_info info;
	int fd;

	if (proc_registry == NULL)
		return;
	path = xasprintf("%s/%ld", proc_registry, (long)pgid);
	if (!add) {
		unlink(path);
	} else if (proc_info_read(pgid, &info) &&
		   (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0) {
		dprintf(fd, "%llu\n%s\n", info.start, cgroup != NULL ? cgroup : "");
		/* No fsync: a crash of the host ends the group too. */
		close(fd);
	}
	free(path);
}

int proc_kill_registered(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int killed = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : (error_set_errno("cannot read %s", dir), DA_ERROR);
	while ((e = readdir(d)) != NULL) {
		char *end, *path;
		struct buf text = BUF_INIT_MAX(64 + PATH_MAX);
		long pgid = strtol(e->d_name, &end, 10);
		unsigned long long leader_start;
		DIR *pd;
		struct dirent *pe;

		if (*end != '\0' || pgid <= 1)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (fs_read_file(&text, path, 64 + PATH_MAX) == 0) {
			const char *cgroup = strchr(buf_cstr(&text), '\n');

			leader_start = strtoull(buf_cstr(&text), NULL, 10);
			/*
			 * The step's cgroup holds what left the group too. Only a
			 * step cgroup of ours: the file could name any directory.
			 */
			if (cgroup != NULL && cgroup[1] == '/') {
				char *cg = xstrndup(cgroup + 1, strcspn(cgroup + 1, "\n"));

				if (strncmp(strrchr(cg, '/') + 1, PROC_CGROUP_PREFIX,
					    strlen(PROC_CGROUP_PREFIX)) == 0) {
					killed += cgroup_signal(cg, SIGKILL);
					if (cgroup_destroy(cg, PROC_CGROUP_WAIT_MS) != 0)
						log_warn("%s", error_last());
				}
				free(cg);
			}
			pd = opendir("/proc");
			while (pd && (pe = readdir(pd)) != NULL) {
				long pid = strtol(pe->d_name, &end, 10);
				struct proc_info info;

				if (*end != '\0' || pid <= 1 || !proc_info_read((pid_t)pid, &info))
					continue;
				if (info.pgrp == (pid_t)pgid && info.start >= leader_start &&
				    kill((pid_t)pid, SIGKILL) == 0)
					killed++;
			}
			if (pd)
				closedir(pd);
		}
		buf_dispose(&text);
		unlink(path);
		free(path);
	}
	closedir(d);
	return killed;
}

int proc_run(struct proc_result *out, const struct proc_opts *opts)
{
	struct proc_wait w;
	int out_pipe[2] = { -1, -1 };
	char *chunk = NULL;
	uint64_t start = time_mono_ms();
	int err = DA_ERROR, err2, status = 0;
	pid_t pid = -1;
	char *cgroup = NULL;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	w.out_fd = w.pidfd = w.cancel_fd = -1;
	if (opts == NULL || opts->argv == NULL || opts->argv[0] == NULL) {
		error_set("proc_run: no command given");
		goto out;
	}
	out->timeout_ms = opts->timeout_ms;

	if (pipe2(out_pipe, O_CLOEXEC) < 0) {
		error_set_errno("cannot run '%s': pipe", opts->argv[0]);
		goto out;
	}
	/* Only our end: the child's stdout stays blocking, as programs expect. */
	if (fcntl(out_pipe[0], F_SETFL, O_NONBLOCK) < 0) {
		error_set_errno("cannot run '%s': fcntl", opts->argv[0]);
		goto out;
	}
	err = proc_start(&pid, &cgroup, out, opts, out_pipe);
	if (err < 0)
		goto out;

	w.pid = pid;
	w.cgroup = cgroup;
	w.out_fd = out_pipe[0];
	out_pipe[0] = -1; /* the wait owns it now */
	w.cancel_fd = opts->cancel_fd;
	w.grace_ms = opts->grace_ms != 0 ? opts->grace_ms : PROC_DEFAULT_GRACE_MS;
	w.deadline = opts->timeout_ms != 0 ? start + opts->timeout_ms : 0;
#ifdef SYS_pidfd_open
	if (!proc__no_pidfd)
		w.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	/*
	 * Without a pidfd (ENOSYS before 5.3, or EMFILE) we poll with
	 * waitid: slower to notice the exit, never wrong.
	 */
	chunk = xmalloc(PROC_CHUNK);
	err = proc_wait(&w, out, opts, chunk);

	/* Once more, for members that closed stdout but stayed (see the top). */
	proc_signal_group(pid, SIGKILL);
	/* And for what left the group: a daemon the step forked ends with it. */
	if (cgroup != NULL && cgroup_destroy(cgroup, PROC_CGROUP_WAIT_MS) != 0)
		log_warn("'%s': %s", opts->argv[0], error_last());
	proc_register(pid, NULL, false);
	err2 = proc_reap(pid, &status);
	proc_leader_remove(pid);
	if (err2 < 0) {
		/* ECHILD: someone set SIGCHLD to SIG_IGN; the status is lost. */
		if (err == 0)
			error_set_errno("cannot reap '%s' (pid %ld)", opts->argv[0], (long)pid);
		err = DA_ERROR;
		goto out;
	}
	out->elapsed_ms = (unsigned long)(time_mono_ms() - start);
	if (WIFEXITED(status)) {
		out->exited = true;
		out->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		out->signal = WTERMSIG(status);
	}
out:
	proc_close(&w.out_fd);
	proc_close(&w.pidfd);
	proc_close(&out_pipe[0]);
	proc_close(&out_pipe[1]);
	free(chunk);
	free(cgroup);
	return err;
}

const char *proc_result_describe(const struct proc_result *r)
{
	static _Thread_local char text[256];
	char how[128];

	if (r == NULL)
		return "no result";
	if (r->exited)
		snprintf(how, sizeof(how), "exit code %d", r->exit_code);
	else
		snprintf(how, sizeof(how), "killed by signal %d (%s)", r->signal,
			 strsignal(r->signal));
	if (r->timed_out)
		snprintf(text, sizeof(text), "timed out after %.1f s (%s)",
			 r->timeout_ms / 1000.0, how);
	else if (r->cancelled)
		snprintf(text, sizeof(text), "cancelled (%s)", how);
	else
		snprintf(text, sizeof(text), "%s", how);
	return text;
}
