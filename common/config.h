/*
 * config.h - the agent's configuration.
 *
 * One INI-style file (default /etc/dataops-agent/agent.conf): "[section]"
 * lines, "key = value" lines, "#" or ";" comments on their own line, blank
 * lines. Every key can be overridden by the environment variable
 * DATAOPS_<SECTION>_<KEY> (upper case) and by command-line flags through
 * config_set(); the order is file < environment < flags.
 *
 * Unknown sections or keys and bad values are errors that name the file,
 * the line and the key ("agent.conf:12: [agent] executors: 'x' is not a
 * number between 1 and 64"). For the environment the origin is the
 * variable's name; for flags, the flag.
 *
 * Values may be wrapped in double quotes, which are dropped. A line may be
 * at most 4096 bytes and the file at most 1 MiB. A DATAOPS_* variable that
 * is set but empty counts as unset (as for secrets below).
 *
 * Secrets (the Jenkins token, the DDDP password, the catalog's secrets)
 * never come from argv or from the file's own values: each comes from a
 * file named by a *_file key, or from its environment variable. Those
 * variables hold the secret itself and are not config keys, so
 * config_load() leaves them alone: DATAOPS_JENKINS_TOKEN (for token_file),
 * DATAOPS_DDDP_PASSWORD (for password_file) and DATAOPS_SECRETS_<NAME>
 * (for [secrets] <name>_file). Every *_file path must be absolute, so a
 * secret pasted where its path belongs is refused without being echoed.
 *
 *   [jenkins] url, user, token_file, node, labels, ca_file
 *   [agent]   catalog, state_dir, executors, poll_interval, envs, log_level,
 *             stop_grace, min_free_mb, keep_runs_mb, claim_reconcile, cgroup
 *   [git]     cache_dir
 *   [dddp]    url, user, password_file, ca_file
 *   [secrets] <name>_file = /path   (secrets the catalog's steps ask for)
 */
#ifndef DA_CONFIG_H
#define DA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_DEFAULT_PATH "/etc/dataops-agent/agent.conf"

struct config_secret_file {
	char *name; /* "vault_password" for "vault_password_file" */
	char *path;
};

struct config {
	char *path; /* the file that was read, NULL when none */
	struct {
		char *url;        /* http(s)://host[:port][/prefix], no trailing slash */
		char *user;
		char *token_file;
		char *node;       /* node name; default: the host name */
		char *labels;     /* space-separated; default "dataops-agent" */
		char *ca_file;    /* CA bundle for https; NULL: the system store (never unverified) */
	} jenkins;
	struct {
		char *catalog;    /* directory of operation files */
		char *state_dir;  /* default /var/lib/dataops-agent */
		unsigned executors;        /* 1..64, default 2 */
		unsigned poll_interval_ms; /* "poll_interval = 2s" / "500ms" / "2"; default 2000 */
		char **envs;      /* envs served, from "dev, staging"; NULL-terminated */
		size_t env_count;
		char *log_level;  /* error, warn, info, debug; default info */
		unsigned stop_grace_ms; /* runs left this long after SIGTERM, then cancelled; default 10m */
		unsigned min_free_mb;   /* no claims while state_dir has less free; default 64 */
		unsigned keep_runs_mb;  /* recorded runs' spools kept, newest first; default 2048 */
		unsigned claim_reconcile_ms; /* a claim whose answer was lost waits this long for
					      * another agent to show it runs the item; default 2m */
		char *cgroup;     /* where steps' cgroups go: auto, off or a cgroup v2 dir (cgroup.h) */
	} agent;
	struct {
		char *cache_dir;  /* default <state_dir>/git */
		bool cache_dir_derived; /* from state_dir: follows a later config_set of it */
	} git;
	struct {
		char *url;
		char *user;
		char *password_file;
		char *ca_file;    /* CA bundle of the engine's https; NULL: the system store */
	} dddp;
	struct config_secret_file *secrets; /* [secrets] section */
	size_t secret_count;
};

/*
 * Load the file at path (NULL: the default path), then the DATAOPS_*
 * variables of envp (NULL-terminated "NAME=value" strings). A missing file
 * is an error only when must_exist is true (the user named it).
 * On error *out is disposed and the message names file, line and key.
 */
int config_load(struct config *out, const char *path, bool must_exist, char *const *envp);

/*
 * Set one key as a flag would ("--state-dir"), origin used in errors.
 * section and key are spelled as in the file ("agent", "state_dir").
 * Call it after config_load(), with the same checks as the file.
 */
int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, const char *origin);

/*
 * Read a secret: the environment variable env_name when set in envp,
 * else the file at path. The file must be a regular file not readable or
 * writable by group or others (error naming the file and its mode); one
 * trailing newline is dropped. what names the secret in errors
 * ("[jenkins] token_file"); the value never appears in a message.
 */
int config_read_secret(char **out, const char *what, const char *path,
		       const char *env_name, char *const *envp);

/* The path of a [secrets] entry, or NULL. Borrowed. */
const char *config_secret_path(const struct config *cfg, const char *name);
/* Is env one of [agent] envs? NULL (an operation without {env}) always is. */
bool config_serves_env(const struct config *cfg, const char *env);

void config_dispose(struct config *cfg);

#endif
