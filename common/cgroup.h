/*
 * cgroup.h - one cgroup v2 directory per step, where the host lets us.
 *
 * A process group is left with one setsid() (a daemon's double fork does
 * it); a cgroup cannot be left by the processes in it, only moved out of by
 * someone with write access to the hierarchy. So each step's leader is put
 * into a fresh cgroup of its own before it runs anything, everything it
 * starts is born there, and ending the step ends the whole cgroup
 * (cgroup.kill, Linux >= 5.14, or SIGKILL to each listed process until it
 * is empty). After a crash of the agent the next one kills the cgroups its
 * registry names (proc.h), which reaches what a process group cannot.
 *
 * Where: <dir>/<the agent's name>/, dir being a directory of a cgroup v2
 * hierarchy the agent may create children in. "auto" is the agent's own cgroup (the "0::" line of /proc/self/cgroup
 * under the cgroup2 mount of /proc/self/mountinfo): under systemd that is
 * the service's cgroup, delegated with Delegate=yes in our unit. Without
 * one (cgroup v1 only, a read-only /sys/fs/cgroup, no permission), steps
 * run in process groups only, with the subreaper as the net (proc.h).
 *
 * The step cgroups are leaves with no controllers: cgroup v2's rule
 * against processes in inner nodes only bites where controllers are
 * enabled for the children, which a cgroup holding processes (the agent's
 * own) cannot have.
 */
#ifndef DA_CGROUP_H
#define DA_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Make <where>/<name> the parent of the step cgroups; where is "auto",
 * "off" or an absolute path of a cgroup v2 directory. name is this
 * agent's own (one per state_dir, which one agent holds at a time), so
 * cgroup_prune never touches another agent's steps in a shared cgroup.
 * Returns 1 when steps will get cgroups, 0 when not ("off", or auto found
 * none: *why says why, static text), DA_EINVALID for a value or a named
 * directory that does not work (message set). Call once at start, before
 * any step runs; cgroup_setup("off", NULL, ...) turns it off again and
 * removes the parent if it is empty.
 */
int cgroup_setup(const char *where, const char *name, const char **why);

/* The parent directory in use, or NULL when steps get no cgroup. */
const char *cgroup_parent(void);

/*
 * Create <parent>/<name> and move pid into it. Returns the new
 * directory's path (to free), or NULL with the message set (nothing left
 * behind). NULL at once, without a message, when cgroups are off.
 */
char *cgroup_enter(const char *name, pid_t pid);

/* Send sig to each process in the cgroup; how many were signalled. */
int cgroup_signal(const char *dir, int sig);

/*
 * Kill every process in the cgroup, wait (up to wait_ms) until it is
 * empty, and remove it. 0 when it is gone (or was never there), DA_ERROR
 * with the message set when something stayed.
 */
int cgroup_destroy(const char *dir, unsigned wait_ms);

/*
 * Remove the cgroups <parent>/<prefix><pid> whose leader pid is gone,
 * killing what is left in them: a step's leader lives (or is an unreaped
 * zombie) as long as its step runs, so these are a crashed agent's, which
 * its registry did not name. Returns how many were removed.
 */
int cgroup_prune(const char *prefix);

/* true while a process is in the cgroup (cgroup.events "populated 1"). */
bool cgroup_populated(const char *dir);

#endif
