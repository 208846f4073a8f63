/*
 * run.h - one run of one catalog operation on this host.
 *
 * A run checks its parameters (before anything runs), resolves the ref
 * parameter in a mirror and checks that exact tree out into a fresh
 * workspace, takes the inputs it declares, runs its stages (steps one after
 * the other; a parallel stage runs its branches at once, each its steps in
 * order), stores its outputs and removes the workspace.
 *
 * Everything it has to say goes to the console spool: step headers and
 * times, every byte the children print (lines of a parallel branch
 * prefixed "[branch] "), errors, and "Finished: RESULT" ("Result: RESULT"
 * with in_record). The caller follows the spool to show it (a terminal, a
 * Jenkins record).
 *
 * A step is a child process or an action of the Delphix engine
 * (agent/dddp.c) named in the config's [dddp] section. The engine's jobs
 * show their percentComplete in the console as they move. Each thread (the
 * run's own, and each parallel branch) opens its own engine session when
 * it first needs one, so branches share nothing; the password is read once
 * per run, before the first step, and wiped at the end. A parallel block's
 * table of results names each branch's bookmark.
 *
 * Steps see only what they are given: a few variables of the agent's
 * environment (PATH, HOME, LANG, LC_ALL, TZ, USER, LOGNAME, TMPDIR), the
 * parameters, the builtins of catalog.h, their own <env> and the secrets
 * they declare. The agent's own secrets never reach them.
 */
#ifndef DA_RUN_H
#define DA_RUN_H

#include <stdbool.h>

#include "catalog.h"
#include "config.h"
#include "redact.h"
#include "spool.h"

/* Results as Jenkins records them. */
enum run_result { RUN_SUCCESS, RUN_UNSTABLE, RUN_FAILURE, RUN_NOT_BUILT, RUN_ABORTED };

/* Exit codes of `dataops-agent run` besides a failed step's own code. */
#define RUN_EXIT_TIMEOUT 124  /* a step timed out (as timeout(1)) */
#define RUN_EXIT_BADINPUT 65  /* a parameter or the ref was refused (EX_DATAERR) */
#define RUN_EXIT_TEMPFAIL 75  /* the repository could not be fetched (EX_TEMPFAIL) */
#define RUN_EXIT_SOFTWARE 70  /* the agent could not do its part (EX_SOFTWARE) */
#define RUN_EXIT_NOPERM 77    /* the Delphix engine refused the credentials (EX_NOPERM) */
#define RUN_EXIT_CONFIG 78    /* the config lacks what a step needs ([dddp], EX_CONFIG) */
#define RUN_EXIT_SIGNAL_BASE 128

struct run_opts {
	const struct config *cfg;
	const struct catalog_operation *op;
	const char *job_name;      /* concrete Jenkins path; NULL = op->path with env */
	const char *env;           /* the environment for "{env}"; NULL when none */
	char *const *params;       /* "NAME=VALUE", NULL-terminated; the rest take defaults */
	char *const *agent_envp;   /* the agent's environment */
	struct spool *console;
	int cancel_fd;             /* readable => cancel the run; -1 = none */
	bool in_record;            /* the console is a Jenkins record, which ends with Jenkins'
				    * own "Finished: X": the last line says "Result: X" instead */
};

struct run_outcome {
	enum run_result result;
	int exit_code;            /* 0, the failing step's code, 128+signal, or RUN_EXIT_* */
	char commit[41];          /* "" when nothing was checked out */
	char *version;            /* resolved tag or "<branch>_<short>"; NULL when none */
	char *summary;            /* why it failed, "" on success; never NULL */
	unsigned long duration_ms;
};

/*
 * Create a run's spool: <state_dir>/runs/<UTC stamp>-<job, '/' as
 * '_'>-<unique>-<tag>.log, mode 0600, with r (may be NULL) masking every
 * byte. unique keeps two runs of one job in one second apart ("q42" for a
 * queue item, "pid1234" for `run`); the tag is outside data and keeps only
 * [A-Za-z0-9.-]. The path is spool_path(*out).
 */
int run_spool_open(struct spool **out, const struct config *cfg, const char *job,
		   const char *unique, const char *tag, struct redactor *r);

/* Add the values of params ("NAME=VALUE") that op marks secret to r. */
void run_redact_secret_params(struct redactor *r, const struct catalog_operation *op,
			      char *const *params);

/* Jenkins' name for a result: "SUCCESS", "FAILURE", ... */
const char *run_result_name(enum run_result r);

/*
 * Check params against op without running anything: unknown names,
 * choices, patterns, the ref's syntax. DA_EINVALID with a message naming
 * the parameter and the operation.
 */
int run_check_params(const struct catalog_operation *op, char *const *params);

/*
 * Run op to the end. Returns 0 when the run happened (whatever its result,
 * see *out) and a negative code only when the console itself failed.
 */
int run_execute(struct run_outcome *out, const struct run_opts *opts);
void run_outcome_dispose(struct run_outcome *o);

#endif
