/* main.c - the dataops-agent command line: agent, run, jobs, check, sync. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "cgroup.h"
#include "config.h"
#include "dddp.h"
#include "error.h"
#include "fsutil.h"
#include "jenkins.h"
#include "jobpath.h"
#include "log.h"
#include "mirror.h"
#include "run.h"
#include "spool.h"
#include "redact.h"
#include "scheduler.h"
#include "sync.h"
#include "xmalloc.h"

extern char **environ;

/* Exit codes of the agent's own commands (sysexits(3)); `run` returns the operation's. */
#define EXIT_USAGE 64
#define EXIT_CONFIG 78
#define EXIT_TEMPFAIL 75
#define EXIT_SOFTWARE 70
#define EXIT_NOPERM 77

static const char usage[] =
	"usage: dataops-agent COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  agent                        the long-running agent: register the node, claim the\n"
	"                               catalog's queued jobs, stream their logs into Jenkins;\n"
	"                               SIGTERM drains (a second one cancels the runs)\n"
	"  run JOB [-p NAME=VALUE]...   run one operation here; its log goes to the terminal\n"
	"                               and to <state_dir>/runs/; the exit code is its result\n"
	"  jobs                         list the operations, one Jenkins path a line\n"
	"  check                        validate config and catalog; test git, Jenkins and\n"
	"                               the Delphix engine\n"
	"  sync [--dry-run]             create or update in Jenkins the folders, trigger jobs,\n"
	"                               -runs record jobs and the node, from the catalog;\n"
	"                               --dry-run only prints what it would change\n"
	"\n"
	"JOB is a Jenkins path: Build/AnalyticsCore, Deploy/dev/DataPipeline/Kafka\n"
	"(an environment served by this agent, [agent] envs).\n"
	"\n"
	"Options:\n"
	"  --config FILE       configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	"  --catalog DIR       [agent] catalog: the directory of operation files\n"
	"  --state-dir DIR     [agent] state_dir: runs, workspaces, artifacts, git cache\n"
	"  --cache-dir DIR     [git] cache_dir: the mirrors of the repositories\n"
	"  --envs LIST         [agent] envs: the environments served (\"dev,staging\")\n"
	"  -p NAME=VALUE       a parameter of the operation (run)\n"
	"  -v, --verbose       debug messages in the agent's log\n"
	"  -h, --help          this text\n"
	"  --version           the version\n"
	"\n"
	"Every configuration key can also be set as DATAOPS_<SECTION>_<KEY>.\n"
	"\n"
	"Exit codes: 0 success; 64 bad usage; 78 bad config or catalog; 75 temporary\n"
	"failure (a repository or Jenkins unreachable); 77 Jenkins refused the token or\n"
	"a permission (sync, agent); 70 internal error. `run` exits with the\n"
	"failing step's own code, 128+N when it was killed by signal N, 124 when it\n"
	"timed out, 65 when a parameter or the tag was refused.\n";

struct cli {
	const char *command;
	const char *config_path;
	const char *job;
	char **params;
	size_t param_count;
	const char *flag_keys[8][3]; /* section, key, value */
	size_t flag_count;
	bool verbose;
	bool dry_run;
};

static int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dataops-agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'dataops-agent --help'.\n");
	return EXIT_USAGE;
}

static int parse_cli(struct cli *cli, int argc, char **argv)
{
	static const struct { const char *flag, *section, *key; } flags[] = {
		{ "--catalog", "agent", "catalog" },
		{ "--state-dir", "agent", "state_dir" },
		{ "--cache-dir", "git", "cache_dir" },
		{ "--envs", "agent", "envs" },
	};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool matched = false;

		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			if (strcmp(a, flags[f].flag) != 0)
				continue;
			if (i + 1 >= argc)
				return die_usage("%s needs a value", a);
			if (cli->flag_count == sizeof(cli->flag_keys) / sizeof(cli->flag_keys[0]))
				return die_usage("%s", "too many options");
			cli->flag_keys[cli->flag_count][0] = flags[f].section;
			cli->flag_keys[cli->flag_count][1] = flags[f].key;
			cli->flag_keys[cli->flag_count][2] = argv[++i];
			cli->flag_count++;
			matched = true;
			break;
		}
		if (matched)
			continue;
		if (strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return die_usage("%s needs a value", a);
			cli->config_path = argv[++i];
		} else if (strcmp(a, "-p") == 0 || strcmp(a, "--param") == 0) {
			if (i + 1 >= argc)
				return die_usage("%s needs NAME=VALUE", a);
			cli->params[cli->param_count++] = argv[++i];
		} else if (strcmp(a, "--dry-run") == 0) {
			cli->dry_run = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			cli->verbose = true;
		} else if (a[0] == '-' && a[1]) {
			return die_usage("unknown option '%s'", a);
		} else if (!cli->command) {
			cli->command = a;
		} else if (!cli->job && strcmp(cli->command, "run") == 0) {
			cli->job = a;
		} else {
			return die_usage("unexpected argument '%s'", a);
		}
	}
	return 0;
}

static int load_config(struct config *cfg, const struct cli *cli)
{
	if (config_load(cfg, cli->config_path, cli->config_path != NULL, environ) < 0) {
		fprintf(stderr, "dataops-agent: %s\n", error_last());
		return EXIT_CONFIG;
	}
	for (size_t i = 0; i < cli->flag_count; i++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s", cli->flag_keys[i][1]);
		if (config_set(cfg, cli->flag_keys[i][0], cli->flag_keys[i][1],
			       cli->flag_keys[i][2], flag) < 0) {
			fprintf(stderr, "dataops-agent: %s\n", error_last());
			return EXIT_CONFIG;
		}
	}
	return 0;
}

static enum log_level log_level_from_name(const char *name)
{
	/* config.c already refused any other name. */
	if (strcmp(name, "error") == 0)
		return LOG_ERROR;
	if (strcmp(name, "warn") == 0)
		return LOG_WARN;
	if (strcmp(name, "debug") == 0)
		return LOG_DEBUG;
	return LOG_INFO;
}

static int load_catalog(struct catalog **cat, const struct config *cfg)
{
	if (catalog_load(cat, cfg->agent.catalog) < 0) {
		fprintf(stderr, "dataops-agent: catalog %s: %s\n", cfg->agent.catalog, error_last());
		return EXIT_CONFIG;
	}
	return 0;
}

static int cmd_jobs(const struct config *cfg, const struct catalog *cat)
{
	for (size_t i = 0; i < cat->op_count; i++) {
		const char *path = cat->ops[i].path;

		if (!jobpath_has_env(path)) {
			printf("%s\n", path);
			continue;
		}
		for (size_t e = 0; e < cfg->agent.env_count; e++) {
			char *p = jobpath_expand(path, cfg->agent.envs[e]);
			printf("%s\n", p);
			free(p);
		}
	}
	return 0;
}

static size_t check_step_secrets(const struct config *cfg, const struct catalog_operation *op,
				 const struct catalog_step *step)
{
	size_t missing = 0;

	for (size_t k = 0; k < step->secret_count; k++) {
		const char *name = step->secrets[k].name;
		const char *path = config_secret_path(cfg, name);
		char *value = NULL;

		if (!path) {
			printf("secrets: %s step '%s' needs '%s': FAILED: set [secrets] %s_file\n",
			       op->path, step->name, name, name);
			missing++;
		} else if (config_read_secret(&value, name, path, NULL, NULL) < 0) {
			printf("secrets: %s: FAILED: %s\n", name, error_last());
			missing++;
		}
		free(value);
	}
	return missing;
}

static bool step_seen_in_branches(const struct catalog_stage *st, size_t before, const char *name)
{
	for (size_t b = 0; b < before; b++)
		for (size_t k = 0; k < st->branches[b].step_count; k++)
			if (strcmp(st->branches[b].steps[k].name, name) == 0)
				return true;
	return false;
}

/* Every secret a step asks for is configured and readable; prints each gap. */
static size_t check_secrets(const struct config *cfg, const struct catalog *cat)
{
	size_t missing = 0;

	for (size_t i = 0; i < cat->op_count; i++) {
		const struct catalog_operation *op = &cat->ops[i];
		for (size_t j = 0; j < op->stage_count; j++) {
			const struct catalog_stage *st = &op->stages[j];
			if (st->kind == CATALOG_STAGE_STEP) {
				missing += check_step_secrets(cfg, op, &st->step);
				continue;
			}
			/* Branches of a count template repeat one step: check it once. */
			for (size_t b = 0; b < st->branch_count; b++)
				for (size_t k = 0; k < st->branches[b].step_count; k++)
					if (!step_seen_in_branches(st, b, st->branches[b].steps[k].name))
						missing += check_step_secrets(cfg, op, &st->branches[b].steps[k]);
		}
	}
	if (!missing)
		printf("secrets: every secret the catalog asks for is configured: ok\n");
	return missing;
}

/* Jenkins: the token works, the version is 2.211 or later, the node is there. */
static int check_jenkins(const struct config *cfg)
{
	struct jenkins *j = NULL;
	struct jenkins_node node;
	int rc;

	if (cfg->jenkins.url == NULL) {
		printf("jenkins: not configured ([jenkins] url)\n");
		return 0;
	}
	rc = jenkins_open_config(&j, cfg, environ, 0, NULL);
	if (rc != 0) {
		printf("jenkins: %s: FAILED: %s\n", cfg->jenkins.url, error_last());
		return rc;
	}
	printf("jenkins: %s: ok (Jenkins %s, user %s)\n", jenkins_url(j), jenkins_version(j),
	       jenkins_user(j));
	rc = jenkins_node_get(j, cfg->jenkins.node, &node);
	if (rc == 0)
		printf("jenkins: node %s: ok (%s)\n", cfg->jenkins.node,
		       node.offline_message ? node.offline_message : "no status yet");
	else if (rc == DA_ENOTFOUND)
		printf("jenkins: node %s: not there yet (dataops-agent sync creates it)\n",
		       cfg->jenkins.node);
	else
		printf("jenkins: node %s: FAILED: %s\n", cfg->jenkins.node, error_last());
	if (rc == 0)
		jenkins_node_dispose(&node);
	jenkins_free(j);
	return rc == DA_ENOTFOUND ? 0 : rc;
}

/* DDDP: the engine answers and takes the credentials (one login, never retried). */
static int check_dddp(const struct config *cfg)
{
	struct dddp_opts o = DDDP_OPTS_INIT;
	struct dddp *d = NULL;
	char *password = NULL;
	int rc;

	if (cfg->dddp.url == NULL) {
		printf("dddp: not configured ([dddp] url)\n");
		return 0;
	}
	rc = config_read_secret(&password, "[dddp] password_file", cfg->dddp.password_file,
				"DATAOPS_DDDP_PASSWORD", environ);
	if (rc == 0) {
		o.url = cfg->dddp.url;
		o.user = cfg->dddp.user;
		o.password = password;
		o.ca_file = cfg->dddp.ca_file;
		o.boot_wait_ms = 5000;
		rc = dddp_new(&d, &o);
		memset(password, 0, strlen(password));
	}
	if (rc == 0)
		rc = dddp_login(d);
	if (rc == 0)
		printf("dddp: %s: ok (API %s, user %s)\n", cfg->dddp.url, dddp_api_version(d),
		       cfg->dddp.user ? cfg->dddp.user : "");
	else
		printf("dddp: %s: FAILED: %s\n", cfg->dddp.url, error_last());
	dddp_free(d);
	free(password);
	return rc;
}

/* cgroups: whether steps will get one each here (cgroup.h); only a bad setting fails. */
static int check_cgroups(const struct config *cfg)
{
	const char *why;
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "dataops-check-%ld", (long)getpid());
	rc = cgroup_setup(cfg->agent.cgroup, name, &why);
	if (rc < 0)
		printf("cgroups: FAILED: %s\n", error_last());
	else if (rc == 1)
		/* Where the agent's own would go: the check's name is not the agent's. */
		printf("cgroups: %.*s: ok (each step in a cgroup of its own)\n",
		       (int)(strrchr(cgroup_parent(), '/') - cgroup_parent()), cgroup_parent());
	else
		printf("cgroups: not used (%s): steps run in process groups\n", why);
	(void)cgroup_setup("off", NULL, &why);
	return rc < 0 ? rc : 0;
}

static int cmd_check(const struct config *cfg, const struct catalog *cat)
{
	size_t repos = 0, failed = 0;

	printf("config: %s: ok\n", cfg->path ? cfg->path : "(defaults)");
	printf("catalog: %s: %zu operations, %zu sequences: ok\n", cfg->agent.catalog,
	       cat->op_count, cat->sequence_count);
	if (check_secrets(cfg, cat) > 0 || check_cgroups(cfg) != 0)
		return EXIT_CONFIG;
	mirror_global_init();
	for (size_t i = 0; i < cat->op_count; i++) {
		const char *url = cat->ops[i].repository;
		char *mirror = NULL;
		bool seen = false;

		if (!url)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = cat->ops[j].repository && strcmp(cat->ops[j].repository, url) == 0;
		if (seen)
			continue;
		repos++;
		if (mirror_fetch(&mirror, cfg->git.cache_dir, url) < 0) {
			printf("git: %s: FAILED: %s\n", url, error_last());
			failed++;
		} else {
			printf("git: %s: ok\n", url);
		}
		free(mirror);
	}
	printf("git: %zu of %zu repositories reachable\n", repos - failed, repos);
	if (check_jenkins(cfg) != 0 || check_dddp(cfg) != 0)
		failed++;
	return failed ? EXIT_TEMPFAIL : 0;
}

/* ---- sync: the Jenkins side of the catalog (agent/sync.c) ---- */

static int cmd_sync(const struct config *cfg, const struct catalog *cat, const struct cli *cli)
{
	struct sync_opts so = { 0 };
	int rc;

	so.cfg = cfg;
	so.cat = cat;
	so.envp = environ;
	so.dry_run = cli->dry_run;
	so.wait_ms = 10000;
	so.out = stdout;
	rc = sync_run(&so);
	if (rc == 0)
		return 0;
	fprintf(stderr, "dataops-agent: sync: %s\n", error_last());
	if (rc == DA_EINVALID)
		return EXIT_CONFIG;
	if (rc == DA_ERETRY || rc == DA_ETIMEOUT)
		return EXIT_TEMPFAIL;
	if (rc == DA_EAUTH)
		return EXIT_NOPERM;
	/* DA_ERROR: Jenkins refused some items (each named on stderr), the others are synced. */
	return rc == DA_ERROR ? 1 : EXIT_SOFTWARE;
}

/* ---- secrets: masked out of every log, console and message ---- */

/* Add one secret to r when it can be read; a secret that cannot is the steps' problem, later. */
static void redact_secret(struct redactor *r, const char *what, const char *path,
			  const char *env_name)
{
	char *value = NULL;

	if (path == NULL && env_name == NULL)
		return;
	if (config_read_secret(&value, what, path, env_name, environ) == 0 && value) {
		if (redact_add_str(r, value) == REDACT_SKIPPED)
			log_warn("%s is shorter than %d characters: it cannot be masked in logs",
				 what, REDACT_MIN_LEN);
		memset(value, 0, strlen(value));
	}
	free(value);
	error_clear();
}

/*
 * The process-wide redactor: the Jenkins token, the DDDP password and
 * every [secrets] value, from their files or DATAOPS_* variables. It
 * masks the agent's own log and messages at once, and every run's console
 * (spool_set_redactor); parameters marked secret are added per run.
 */
static struct redactor *secrets_redactor(const struct config *cfg)
{
	struct redactor *r;

	redactor_new(&r);
	redact_secret(r, "[jenkins] token_file", cfg->jenkins.token_file, "DATAOPS_JENKINS_TOKEN");
	redact_secret(r, "[dddp] password_file", cfg->dddp.password_file, "DATAOPS_DDDP_PASSWORD");
	for (size_t i = 0; i < cfg->secret_count; i++) {
		char *env_name = xasprintf("DATAOPS_SECRETS_%s", cfg->secrets[i].name);
		char *what = xasprintf("[secrets] %s_file", cfg->secrets[i].name);

		for (char *c = env_name; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		redact_secret(r, what, cfg->secrets[i].path, env_name);
		free(what);
		free(env_name);
	}
	redact_set_global(r);
	return r;
}

/* ---- agent: the long-running loop (agent/scheduler.c) ---- */

static volatile sig_atomic_t agent_stop;

/* First SIGTERM/SIGINT drains, the second cancels the runs. */
static void on_agent_signal(int sig)
{
	(void)sig;
	if (agent_stop < 2)
		agent_stop++;
}

static int cmd_agent(const struct config *cfg, const struct catalog *cat, struct redactor *red)
{
	struct scheduler_opts so = { 0 };
	struct sigaction sa = { 0 };
	int rc;

	sa.sa_handler = on_agent_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* A dead connection is an error return, not a death. */
	signal(SIGPIPE, SIG_IGN);
	so.cfg = cfg;
	so.cat = cat;
	so.envp = environ;
	so.stop = &agent_stop;
	so.redactor = red;
	so.jenkins_wait_ms = -1;
	rc = scheduler_run(&so);
	if (rc == 0)
		return 0;
	fprintf(stderr, "dataops-agent: agent: %s\n", error_last());
	/* DA_ECONFLICT: another agent holds the state_dir, a config mistake. */
	if (rc == DA_EINVALID || rc == DA_ECONFLICT)
		return EXIT_CONFIG;
	if (rc == DA_ERETRY || rc == DA_ETIMEOUT)
		return EXIT_TEMPFAIL;
	if (rc == DA_EAUTH)
		return EXIT_NOPERM;
	return EXIT_SOFTWARE;
}

/* ---- run: the terminal follows the spool from its own thread ---- */

struct follower {
	struct spool *spool;
	pthread_t thread;
};

static void *follow_to_stdout(void *arg)
{
	struct follower *f = arg;
	uint64_t off = 0;
	char chunk[65536];

	for (;;) {
		ssize_t n = spool_read_at(f->spool, off, chunk, sizeof(chunk), 1000);
		if (n == DA_ETIMEOUT)
			continue;
		if (n <= 0)
			break;
		/* A slow terminal only slows this thread; the child writes to the spool. */
		if (fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n)
			break;
		fflush(stdout);
		off += (uint64_t)n;
	}
	return NULL;
}

static int cancel_fd = -1;

static void on_signal(int sig)
{
	uint64_t one = 1;

	(void)sig;
	if (write(cancel_fd, &one, sizeof(one)) < 0)
		(void)0; /* nothing safe to do in a handler */
}

static int cmd_run(const struct config *cfg, const struct catalog *cat, const struct cli *cli,
		   struct redactor *red)
{
	const struct catalog_operation *op;
	struct run_opts ro = { 0 };
	struct run_outcome outcome;
	struct follower follower = { 0 };
	struct sigaction sa = { 0 };
	char *env = NULL, *unique = NULL;
	const char *no_cgroup;
	char cgname[64];
	int code = EXIT_SOFTWARE;

	if (!cli->job)
		return die_usage("%s", "run needs a JOB");
	op = catalog_match(cat, cli->job, &env);
	if (!op) {
		fprintf(stderr, "dataops-agent: no operation '%s' in the catalog %s "
			"(see 'dataops-agent jobs')\n", cli->job, cfg->agent.catalog);
		return EXIT_USAGE;
	}
	if (jobpath_has_env(cli->job)) {
		fprintf(stderr, "dataops-agent: %s needs an environment: write it in the path, "
			"e.g. %s\n", cli->job, cfg->agent.env_count ? cfg->agent.envs[0] : "dev");
		code = EXIT_USAGE;
		goto out;
	}
	if (!config_serves_env(cfg, env)) {
		fprintf(stderr, "dataops-agent: environment '%s' is not served by this agent "
			"([agent] envs)\n", env);
		code = EXIT_USAGE;
		goto out;
	}
	/* Refuse bad parameters before anything is created or run. */
	if (run_check_params(op, cli->params) < 0) {
		fprintf(stderr, "dataops-agent: %s\n", error_last());
		code = RUN_EXIT_BADINPUT;
		goto out;
	}
	run_redact_secret_params(red, op, cli->params);
	/* Its steps get cgroups too where the host allows it (cgroup.h). */
	snprintf(cgname, sizeof(cgname), "dataops-run-%ld", (long)getpid());
	if (cgroup_setup(cfg->agent.cgroup, cgname, &no_cgroup) < 0) {
		fprintf(stderr, "dataops-agent: %s\n", error_last());
		code = EXIT_CONFIG;
		goto out;
	}
	log_debug("steps run in cgroups: %s", cgroup_parent() ? cgroup_parent() : no_cgroup);
	unique = xasprintf("pid%ld", (long)getpid());
	if (run_spool_open(&follower.spool, cfg, cli->job, unique, "", red) < 0) {
		fprintf(stderr, "dataops-agent: %s\n", error_last());
		goto out;
	}
	cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_create(&follower.thread, NULL, follow_to_stdout, &follower);

	mirror_global_init();
	ro.cfg = cfg;
	ro.op = op;
	ro.job_name = cli->job;
	ro.env = env;
	ro.params = cli->params;
	ro.agent_envp = environ;
	ro.console = follower.spool;
	ro.cancel_fd = cancel_fd;
	run_execute(&outcome, &ro);
	spool_finish(follower.spool);
	pthread_join(follower.thread, NULL);
	fprintf(stderr, "dataops-agent: %s %s; log: %s\n", cli->job,
		run_result_name(outcome.result), spool_path(follower.spool));
	code = outcome.exit_code;
	if (outcome.result != RUN_SUCCESS && code == 0)
		code = 1;
	run_outcome_dispose(&outcome);
out:
	(void)cgroup_setup("off", NULL, &no_cgroup);
	spool_free(follower.spool);
	if (cancel_fd >= 0)
		close(cancel_fd);
	free(env);
	free(unique);
	return code;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	struct config cfg = { 0 };
	struct catalog *cat = NULL;
	struct redactor *red = NULL;
	int code;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("dataops-agent %s\n", DA_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	}
	cli.params = xcalloc((size_t)argc + 1, sizeof(char *));
	if ((code = parse_cli(&cli, argc, argv)) != 0)
		goto out;
	if (!cli.command) {
		code = die_usage("%s", "no command given");
		goto out;
	}
	if (strcmp(cli.command, "run") != 0 && strcmp(cli.command, "jobs") != 0 &&
	    strcmp(cli.command, "check") != 0 && strcmp(cli.command, "sync") != 0 &&
	    strcmp(cli.command, "agent") != 0) {
		code = die_usage("unknown command '%s'", cli.command);
		goto out;
	}
	if (cli.param_count && strcmp(cli.command, "run") != 0) {
		code = die_usage("%s", "-p is for run");
		goto out;
	}
	if (cli.dry_run && strcmp(cli.command, "sync") != 0) {
		code = die_usage("%s", "--dry-run is for sync");
		goto out;
	}
	log_set_level(cli.verbose ? LOG_DEBUG : LOG_INFO);
	if ((code = load_config(&cfg, &cli)) != 0)
		goto out;
	/* From here on no secret the config names can reach a log or a message. */
	red = secrets_redactor(&cfg);
	if (!cli.verbose)
		log_set_level(log_level_from_name(cfg.agent.log_level));
	if ((code = load_catalog(&cat, &cfg)) != 0)
		goto out;
	if (strcmp(cli.command, "jobs") == 0)
		code = cmd_jobs(&cfg, cat);
	else if (strcmp(cli.command, "check") == 0)
		code = cmd_check(&cfg, cat);
	else if (strcmp(cli.command, "sync") == 0)
		code = cmd_sync(&cfg, cat, &cli);
	else if (strcmp(cli.command, "agent") == 0)
		code = cmd_agent(&cfg, cat, red);
	else
		code = cmd_run(&cfg, cat, &cli, red);
out:
	catalog_free(cat);
	config_dispose(&cfg);
	redact_set_global(NULL);
	redactor_free(red);
	free(cli.params);
	return code;
}
