/*
 * cgroup.c - one cgroup v2 directory per step (see cgroup.h).
 *
 * Everything here is plain file I/O on cgroupfs: mkdir makes a cgroup,
 * writing a pid to cgroup.procs moves a process, writing "1" to
 * cgroup.kill SIGKILLs everything inside (and what it forks meanwhile),
 * cgroup.events says whether anything is left, rmdir removes an empty one.
 */
#define _GNU_SOURCE

#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "timeutil.h"
#include "xmalloc.h"

#define CGROUP_FILE_MAX (1u << 20) /* cgroup.procs of a busy step, /proc/self/mountinfo */

static char *cgroup_dir;        /* set once at start, read by every step */
static char cgroup_why[512];    /* why auto found no cgroup */

const char *cgroup_parent(void)
{
	return cgroup_dir;
}

/* Write text to dir/file; 0 or -1 with errno. */
static int cgroup_write(const char *dir, const char *file, const char *text)
{
	char *path = xasprintf("%s/%s", dir, file);
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = -1, saved;

	free(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) == (ssize_t)len)
		rc = 0;
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void cgroup_unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r; w++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w = *r++;
		}
	}
	*w = '\0';
}

/*
 * The directory of our own cgroup v2: the "0::" line of /proc/self/cgroup,
 * under the cgroup2 mount whose root contains it. NULL with cgroup_why set.
 */
static char *cgroup_own_dir(void)
{
	struct buf cg = BUF_INIT_MAX(CGROUP_FILE_MAX), mi = BUF_INIT_MAX(CGROUP_FILE_MAX);
	char *own = NULL, *dir = NULL, *line, *save = NULL, *cgtext = NULL, *mitext = NULL;

	if (fs_read_file(&cg, "/proc/self/cgroup", CGROUP_FILE_MAX) != 0 ||
	    fs_read_file(&mi, "/proc/self/mountinfo", CGROUP_FILE_MAX) != 0) {
		snprintf(cgroup_why, sizeof(cgroup_why), "%s", error_last());
		goto out;
	}
	/* Copies: strtok_r cuts them up. */
	cgtext = xstrdup(buf_cstr(&cg));
	mitext = xstrdup(buf_cstr(&mi));
	for (line = strtok_r(cgtext, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) == 0) {
			own = line + 3;
			break;
		}
	}
	if (own == NULL || own[0] != '/') {
		snprintf(cgroup_why, sizeof(cgroup_why), "the agent is in no cgroup v2 hierarchy");
		goto out;
	}
	/* "id parent maj:min root mountpoint options [optional...] - fstype source super" */
	save = NULL;
	for (line = strtok_r(mitext, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *fields[5], *sep = strstr(line, " - "), *tok, *fsave = NULL;
		size_t n = 0, rlen;

		if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &fsave); tok && n < 5; tok = strtok_r(NULL, " ", &fsave))
			fields[n++] = tok;
		if (n < 5)
			continue;
		cgroup_unescape(fields[3]);
		cgroup_unescape(fields[4]);
		rlen = strcmp(fields[3], "/") == 0 ? 0 : strlen(fields[3]);
		if (strncmp(own, fields[3], rlen) != 0 || (own[rlen] != '/' && own[rlen] != '\0'))
			continue;
		dir = strcmp(own + rlen, "/") == 0 || own[rlen] == '\0' ?
			      xstrdup(fields[4]) : xasprintf("%s%s", fields[4], own + rlen);
		break;
	}
	if (dir == NULL)
		snprintf(cgroup_why, sizeof(cgroup_why),
			 "no cgroup2 mount holds the agent's cgroup %s", own);
out:
	buf_dispose(&cg);
	buf_dispose(&mi);
	free(cgtext);
	free(mitext);
	return dir;
}

/*
 * Can we make a child cgroup in dir and move a process into it? Tried with
 * a child of ours that only waits to be killed: a mkdir that works is not
 * enough where the hierarchy refuses the move (EBUSY, EOPNOTSUPP), and each
 * step would then say so. 0, or -1 with errno.
 */
static int cgroup_probe(const char *dir)
{
	char *probe = xasprintf("%s/dataops-probe-%ld", dir, (long)getpid());
	char pidtext[32];
	int rc = -1, saved, status;
	pid_t child;

	if (mkdir(probe, 0755) != 0) {
		saved = errno;
		free(probe);
		errno = saved;
		return -1;
	}
	child = fork();
	if (child == 0) {
		for (;;)
			pause(); /* until the SIGKILL below */
	}
	saved = errno;
	if (child > 0) {
		snprintf(pidtext, sizeof(pidtext), "%ld", (long)child);
		rc = cgroup_write(probe, "cgroup.procs", pidtext);
		saved = errno;
		kill(child, SIGKILL);
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
	}
	/* Reaped: the cgroup is empty now, and removable. */
	if (rmdir(probe) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	free(probe);
	errno = saved;
	return rc;
}

/* Make dir/name (it may be there from an earlier start): 0, or -1 with errno. */
static int cgroup_make_parent(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);

	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		int saved = errno;

		free(path);
		errno = saved;
		return -1;
	}
	cgroup_dir = path;
	return 0;
}

int cgroup_setup(const char *where, const char *name, const char **why)
{
	char *dir;
	struct stat st;

	if (cgroup_dir != NULL)
		(void)rmdir(cgroup_dir); /* only when empty: a crash's leftovers stay for prune */
	free(cgroup_dir);
	cgroup_dir = NULL;
	*why = cgroup_why;
	if (where == NULL || strcmp(where, "auto") == 0) {
		dir = cgroup_own_dir();
		if (dir == NULL)
			return 0;
		if (cgroup_probe(dir) != 0 || cgroup_make_parent(dir, name) != 0) {
			snprintf(cgroup_why, sizeof(cgroup_why), "cannot create cgroups in %s: %s",
				 dir, strerror(errno));
			free(dir);
			return 0;
		}
		free(dir);
		return 1;
	}
	if (strcmp(where, "off") == 0) {
		snprintf(cgroup_why, sizeof(cgroup_why), "[agent] cgroup = off");
		return 0;
	}
	if (where[0] != '/') {
		error_set("[agent] cgroup: '%s' is not auto, off or an absolute path", where);
		return DA_EINVALID;
	}
	if (stat(where, &st) != 0) {
		error_set_errno("[agent] cgroup: %s", where);
		return DA_EINVALID;
	}
	if (!S_ISDIR(st.st_mode)) {
		error_set("[agent] cgroup: %s is not a directory", where);
		return DA_EINVALID;
	}
	dir = xasprintf("%s/cgroup.procs", where);
	if (access(dir, F_OK) != 0) {
		error_set("[agent] cgroup: %s is not a cgroup v2 directory (it has no cgroup.procs)",
			  where);
		free(dir);
		return DA_EINVALID;
	}
	free(dir);
	if (cgroup_probe(where) != 0 || cgroup_make_parent(where, name) != 0) {
		error_set_errno("[agent] cgroup: cannot create cgroups in %s", where);
		return DA_EINVALID;
	}
	return 1;
}

char *cgroup_enter(const char *name, pid_t pid)
{
	char *path, pidtext[32];

	if (cgroup_dir == NULL)
		return NULL;
	path = xasprintf("%s/%s", cgroup_dir, name);
	/* A leftover of a crashed agent under the same name is empty: replace it. */
	if (mkdir(path, 0755) != 0 && (errno != EEXIST || rmdir(path) != 0 || mkdir(path, 0755) != 0)) {
		error_set_errno("cannot create the cgroup %s", path);
		free(path);
		return NULL;
	}
	snprintf(pidtext, sizeof(pidtext), "%ld", (long)pid);
	if (cgroup_write(path, "cgroup.procs", pidtext) != 0) {
		error_set_errno("cannot move process %ld into the cgroup %s", (long)pid, path);
		(void)rmdir(path);
		free(path);
		return NULL;
	}
	return path;
}

int cgroup_signal(const char *dir, int sig)
{
	struct buf procs = BUF_INIT_MAX(CGROUP_FILE_MAX);
	char *path = xasprintf("%s/cgroup.procs", dir);
	int n = 0;

	if (fs_read_file(&procs, path, CGROUP_FILE_MAX) == 0 && procs.len > 0) {
		const char *p = buf_cstr(&procs);

		while (*p) {
			char *end;
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (pid > 1 && kill((pid_t)pid, sig) == 0)
				n++;
			p = end;
		}
	}
	buf_dispose(&procs);
	free(path);
	return n;
}

bool cgroup_populated(const char *dir)
{
	struct buf ev = BUF_INIT_MAX(4096);
	char *path = xasprintf("%s/cgroup.events", dir);
	bool populated = false;

	if (fs_read_file(&ev, path, 4096) == 0)
		populated = strstr(buf_cstr(&ev), "populated 1") != NULL;
	buf_dispose(&ev);
	free(path);
	return populated;
}

int cgroup_destroy(const char *dir, unsigned wait_ms)
{
	uint64_t give_up = time_mono_ms() + wait_ms;
	bool has_kill;

	if (access(dir, F_OK) != 0)
		return 0;
	/* cgroup.kill (5.14) also catches what forks while it works; else we repeat. */
	has_kill = cgroup_write(dir, "cgroup.kill", "1") == 0;
	for (;;) {
		if (!has_kill)
			cgroup_signal(dir, SIGKILL);
		if (!cgroup_populated(dir) && (rmdir(dir) == 0 || errno == ENOENT))
			return 0;
		if (time_mono_ms() >= give_up)
			break;
		nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000L }, NULL);
	}
	error_set("processes stayed in the cgroup %s after SIGKILL", dir);
	return DA_ERROR;
}

int cgroup_prune(const char *prefix)
{
	size_t plen = strlen(prefix);
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (cgroup_dir == NULL || (d = opendir(cgroup_dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char *end, *path;
		long pid;

		if (strncmp(e->d_name, prefix, plen) != 0)
			continue;
		pid = strtol(e->d_name + plen, &end, 10);
		if (end == e->d_name + plen || *end != '\0' || pid <= 1)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		path = xasprintf("%s/%s", cgroup_dir, e->d_name);
		if (cgroup_destroy(path, 2000) == 0)
			n++;
		free(path);
	}
	closedir(d);
	return n;
}
