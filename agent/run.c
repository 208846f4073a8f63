/*
 * run.c - one run of one catalog operation: ref, workspace, steps, outputs.
 *
 * Steps are child processes (common/proc.c) or Delphix engine actions
 * (agent/dddp.c); both write to the same console, prefixed per branch.
 */
#define _GNU_SOURCE /* eventfd flags, pthread names */
#include "run.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "buf.h"
#include "dddp.h"
#include "error.h"
#include "fsutil.h"
#include "jobpath.h"
#include "mirror.h"
#include "proc.h"
#include "timeutil.h"
#include "xmalloc.h"

#define PARAM_VALUE_MAX 65536
/* An engine step without a timeout still waits at most this long for its job. */
#define DDDP_STEP_DEFAULT_TIMEOUT_S (6u * 3600u)
/* A branch line longer than this is written out without waiting for '\n'. */
#define LINE_MAX_BUFFERED 8192
#define RETRY_DELAY_MS 1000

/* Variables of the agent that steps may see; nothing else of ours leaks. */
static const char *const inherited_vars[] = {
	"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR", NULL
};


int run_spool_open(struct spool **out, const struct config *cfg, const char *job,
		   const char *unique, const char *tag, struct redactor *r)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	struct buf b = BUF_INIT_MAX(8192);
	char *dir = xasprintf("%s/runs", cfg->agent.state_dir);
	int rc;

	*out = NULL;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	buf_printf(&b, "%s/%s-", dir, stamp);
	for (const char *c = job; *c; c++)
		buf_putc(&b, *c == '/' || *c == ' ' ? '_' : *c);
	buf_printf(&b, "-%s-", unique);
	for (const char *c = tag ? tag : ""; *c; c++)
		buf_putc(&b, (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			     (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' ? *c : '_');
	buf_puts(&b, ".log");
	rc = fs_mkdir_p(dir, 0700);
	if (rc == 0)
		rc = spool_open(out, buf_cstr(&b));
	if (rc == 0 && r && (rc = spool_set_redactor(*out, r)) != 0) {
		spool_free(*out);
		*out = NULL;
	}
	buf_dispose(&b);
	free(dir);
	return rc;
}

void run_redact_secret_params(struct redactor *r, const struct catalog_operation *op,
			      char *const *params)
{
	for (size_t i = 0; r && params && params[i]; i++) {
		const char *eq = strchr(params[i], '=');
		char *name = eq ? xstrndup(params[i], (size_t)(eq - params[i])) : NULL;
		const struct catalog_param *p = name ? catalog_param_find(op, name) : NULL;

		if (p && p->secret)
			redact_add_str(r, eq + 1);
		free(name);
	}
}

const char *run_result_name(enum run_result r)
{
	switch (r) {
	case RUN_SUCCESS: return "SUCCESS";
	case RUN_UNSTABLE: return "UNSTABLE";
	case RUN_FAILURE: return "FAILURE";
	case RUN_NOT_BUILT: return "NOT_BUILT";
	case RUN_ABORTED: return "ABORTED";
	}
	return "FAILURE";
}

/* ---- name/value lists: parameters, builtins, a step's environment ---- */

struct vars {
	char **names;
	char **values;
	size_t count;
};

static void vars_set(struct vars *v, const char *name, const char *value)
{
	for (size_t i = 0; i < v->count; i++) {
		if (strcmp(v->names[i], name) == 0) {
			free(v->values[i]);
			v->values[i] = xstrdup(value);
			return;
		}
	}
	v->names = xreallocarray(v->names, v->count + 1, sizeof(char *));
	v->values = xreallocarray(v->values, v->count + 1, sizeof(char *));
	v->names[v->count] = xstrdup(name);
	v->values[v->count] = xstrdup(value);
	v->count++;
}

static const char *vars_get(const struct vars *v, const char *name)
{
	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->names[i], name) == 0)
			return v->values[i];
	return NULL;
}

static void vars_copy(struct vars *dst, const struct vars *src)
{
	for (size_t i = 0; i < src->count; i++)
		vars_set(dst, src->names[i], src->values[i]);
}

/* "NAME=VALUE" strings, NULL-terminated, for execve. */
static char **vars_to_envp(const struct vars *v)
{
	char **envp = xcalloc(v->count + 1, sizeof(char *));

	for (size_t i = 0; i < v->count; i++)
		envp[i] = xasprintf("%s=%s", v->names[i], v->values[i]);
	return envp;
}

static void vars_dispose(struct vars *v)
{
	for (size_t i = 0; i < v->count; i++) {
		free(v->names[i]);
		free(v->values[i]);
	}
	free(v->names);
	free(v->values);
	memset(v, 0, sizeof(*v));
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/*
 * Replace each ${name} of tmpl with its value in the lookup lists, in
 * order. The loader already refused unknown names, so a miss here is an
 * internal error, reported rather than guessed.
 */
static int expand(char **out, const char *tmpl, const struct vars *a, const struct vars *b)
{
	struct buf o;
	const char *p = tmpl;

	*out = NULL;
	buf_init(&o, PARAM_VALUE_MAX * 4);
	while (*p) {
		const char *end;
		if (p[0] != '$' || p[1] != '{' || !(end = strchr(p + 2, '}'))) {
			if (buf_putc(&o, *p++) < 0)
				goto too_big;
			continue;
		}
		char *name = xstrndup(p + 2, (size_t)(end - p - 2));
		const char *value = vars_get(a, name);
		if (!value && b)
			value = vars_get(b, name);
		if (!value) {
			error_set("'${%s}' in '%s' names nothing known", name, tmpl);
			free(name);
			buf_dispose(&o);
			return DA_EINVALID;
		}
		free(name);
		if (buf_puts(&o, value) < 0)
			goto too_big;
		p = end + 1;
	}
	*out = buf_detach(&o);
	return 0;
too_big:
	buf_dispose(&o);
	error_set("'%s' expands to more than %d bytes", tmpl, PARAM_VALUE_MAX * 4);
	return DA_ETOOBIG;
}

/* ---- the console: one spool, lines of branches prefixed ---- */

struct console {
	struct spool *spool;
	char *prefix;        /* "[prep3] " or "" */
	struct buf partial;  /* a branch's line not yet ended */
};

static void console_init(struct console *c, struct spool *spool, const char *branch)
{
	c->spool = spool;
	c->prefix = branch ? xasprintf("[%s] ", branch) : xstrdup("");
	buf_init(&c->partial, LINE_MAX_BUFFERED * 2);
}

static void console_flush(struct console *c)
{
	if (c->partial.len == 0)
		return;
	buf_putc(&c->partial, '\n');
	spool_write(c->spool, c->partial.ptr, c->partial.len);
	buf_clear(&c->partial);
}

/*
 * Outside a branch bytes go straight through. Inside one, whole lines are
 * written with the prefix in one spool_write, so branches never interleave
 * inside a line.
 */
static void console_write(struct console *c, const char *data, size_t len)
{
	if (!c->prefix[0]) {
		spool_write(c->spool, data, len);
		return;
	}
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) + 1 : len;

		if (c->partial.len == 0)
			buf_puts(&c->partial, c->prefix);
		size_t room = c->partial.len < LINE_MAX_BUFFERED ?
			      LINE_MAX_BUFFERED - c->partial.len : 1;
		if (take > room)
			take = room;
		buf_put(&c->partial, data, take);
		data += take;
		len -= take;
		if (c->partial.ptr[c->partial.len - 1] == '\n') {
			spool_write(c->spool, c->partial.ptr, c->partial.len);
			buf_clear(&c->partial);
		} else if (c->partial.len >= LINE_MAX_BUFFERED) {
			console_flush(c);
		}
	}
}

static void console_printf(struct console *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void console_printf(struct console *c, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 1 << 20);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	console_write(c, b.ptr ? b.ptr : "", b.len);
	buf_dispose(&b);
}

static void console_dispose(struct console *c)
{
	console_flush(c);
	free(c->prefix);
	buf_dispose(&c->partial);
}

static void on_child_output(const char *data, size_t len, void *payload)
{
	console_write(payload, data, len);
}

/* ---- parameters ---- */

static bool value_is_printable(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
			return false;
	return true;
}

static int check_one_param(const struct catalog_operation *op,
			   const struct catalog_param *param, const char *value)
{
	if (strlen(value) > PARAM_VALUE_MAX) {
		error_set("parameter '%s' of %s is longer than %d bytes", param->name, op->path,
			  PARAM_VALUE_MAX);
		return DA_EINVALID;
	}
	if (!value_is_printable(value)) {
		error_set("parameter '%s' of %s holds control characters", param->name, op->path);
		return DA_EINVALID;
	}
	if (param->choices) {
		struct buf list;
		bool found = false;

		for (char **c = param->choices; *c; c++)
			found = found || strcmp(*c, value) == 0;
		if (found)
			return 0;
		buf_init(&list, 1 << 16);
		for (char **c = param->choices; *c; c++)
			buf_printf(&list, "%s%s", c == param->choices ? "" : ", ", *c);
		error_set("parameter '%s' of %s must be one of: %s", param->name, op->path,
			  buf_cstr(&list));
		buf_dispose(&list);
		return DA_EINVALID;
	}
	if (param->pattern) {
		char err[128];
		int rc = catalog_pattern_match(param->pattern, value, err, sizeof(err));

		if (rc < 0) {
			error_set("parameter '%s' of %s has a bad pattern '%s': %s", param->name,
				  op->path, param->pattern, err);
			return DA_EINVALID;
		}
		if (rc == 0) {
			/* Secret values stay out of messages. */
			error_set("parameter '%s' of %s: %s%s%s does not match %s", param->name,
				  op->path, param->secret ? "" : "'",
				  param->secret ? "the value" : value, param->secret ? "" : "'",
				  param->pattern);
			return DA_EINVALID;
		}
	}
	if (param->is_ref && !mirror_ref_name_is_valid(value)) {
		error_set("parameter '%s' of %s: '%s' is not a valid git ref name", param->name,
			  op->path, value);
		return DA_EINVALID;
	}
	return 0;
}

/* Fill *out with every parameter of op: given values, else defaults. */
static int resolve_params(struct vars *out, const struct catalog_operation *op,
			  char *const *params)
{
	int rc;

	for (size_t i = 0; i < op->param_count; i++)
		vars_set(out, op->params[i].name, op->params[i].default_value);
	for (char *const *p = params; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		char *name = eq ? xstrndup(*p, (size_t)(eq - *p)) : xstrdup(*p);
		const struct catalog_param *param = catalog_param_find(op, name);

		if (!eq) {
			error_set("parameter '%s' has no value: write NAME=VALUE", name);
			free(name);
			return DA_EINVALID;
		}
		if (!param) {
			struct buf known;

			buf_init(&known, 1 << 16);
			for (size_t i = 0; i < op->param_count; i++)
				buf_printf(&known, "%s%s", i ? ", " : "", op->params[i].name);
			error_set("%s has no parameter '%s'; it takes: %s", op->path, name,
				  op->param_count ? buf_cstr(&known) : "none");
			buf_dispose(&known);
			free(name);
			return DA_EINVALID;
		}
		vars_set(out, name, eq + 1);
		free(name);
	}
	for (size_t i = 0; i < op->param_count; i++) {
		rc = check_one_param(op, &op->params[i], vars_get(out, op->params[i].name));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int run_check_params(const struct catalog_operation *op, char *const *params)
{
	struct vars v = { 0 };
	int rc = resolve_params(&v, op, params);

	vars_dispose(&v);
	return rc;
}

/* ---- one run ---- */

struct run {
	const struct run_opts *opts;
	struct vars base;       /* inherited variables, parameters and builtins */
	char *workspace;
	struct console console;
	atomic_int failures;
	char *dddp_password;    /* read once when a step needs the engine; wiped at the end */
	struct dddp *dddp;      /* the run's own thread's engine session; branches have theirs */
};

struct step_outcome {
	enum run_result result;
	int exit_code;
	char *summary;
	char *bookmark;         /* an engine step's bookmark: "prep1 2024-05-01 102500 (shared)" */
};

/* The environment one step sees, in order of precedence (later wins). */
static int step_environment(struct vars *out, struct run *run, const struct catalog_step *step,
			    const struct vars *branch_vars)
{
	const struct config *cfg = run->opts->cfg;
	int rc;

	vars_copy(out, &run->base);
	if (branch_vars)
		vars_copy(out, branch_vars);
	for (size_t i = 0; i < step->env_count; i++) {
		char *value;
		if ((rc = expand(&value, step->env[i].value, out, NULL)) < 0)
			return rc;
		vars_set(out, step->env[i].name, value);
		free(value);
	}
	for (size_t i = 0; i < step->secret_count; i++) {
		const struct catalog_secret *sec = &step->secrets[i];
		const char *path = config_secret_path(cfg, sec->name);
		char *env_name = xasprintf("DATAOPS_SECRETS_%s", sec->name);
		char *value = NULL;

		for (char *c = env_name; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		if (!path) {
			error_set("step '%s' needs the secret '%s': set [secrets] %s_file in %s",
				  step->name, sec->name, sec->name,
				  cfg->path ? cfg->path : "the config");
			free(env_name);
			return DA_EINVALID;
		}
		/* Checks the file's mode even when only its path is passed on. */
		rc = config_read_secret(&value, sec->name, path, sec->as_file ? NULL : env_name,
					run->opts->agent_envp);
		free(env_name);
		if (rc < 0)
			return rc;
		vars_set(out, sec->env, sec->as_file ? path : value);
		if (value) {
			memset(value, 0, strlen(value));
			free(value);
		}
	}
	return 0;
}

static void describe_argv(struct buf *b, char *const *argv)
{
	for (char *const *a = argv; *a; a++) {
		bool plain = **a && strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					       "0123456789-_./=:,+@%") == strlen(*a);
		buf_puts(b, a == argv ? "" : " ");
		if (plain) {
			buf_puts(b, *a);
			continue;
		}
		buf_putc(b, '\'');
		for (const char *c = *a; *c; c++) {
			if (*c == '\'')
				buf_puts(b, "'\\''");
			else
				buf_putc(b, *c);
		}
		buf_putc(b, '\'');
	}
}

static void step_fail(struct step_outcome *so, enum run_result result, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void step_fail(struct step_outcome *so, enum run_result result, int code, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 1 << 16);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(so->summary);
	so->summary = buf_detach(&b);
	so->result = result;
	so->exit_code = code;
}

/* ---- engine steps ---- */

static void on_dddp_progress(const struct dddp_job *job, double percent, const char *message,
			     void *payload)
{
	struct console *con = payload;

	console_printf(con, "    %s %s %3.0f%%%s%s\n", job->ref, job->action_type, percent,
		       *message ? "  " : "", message);
}

static void on_dddp_note(const char *message, void *payload)
{
	console_printf(payload, "    engine: %s\n", message);
}

/* The exit code of a failed engine step. */
static int dddp_exit_code(int rc)
{
	switch (rc) {
	case DA_ETIMEOUT: return RUN_EXIT_TIMEOUT;
	case DA_ECANCELLED: return RUN_EXIT_SIGNAL_BASE + 15;
	case DA_EAUTH: return RUN_EXIT_NOPERM;
	case DA_ERETRY: return RUN_EXIT_TEMPFAIL;
	case DA_EINVALID: return RUN_EXIT_CONFIG;
	default: return 1;
	}
}

/* Split "a,b, c" into a NULL-terminated list of trimmed, non-empty items. */
static char **split_tags(const char *s)
{
	size_t n = 0, cap = 4;
	char **v = xcalloc(cap, sizeof(char *));

	while (*s) {
		size_t len = strcspn(s, ",");
		const char *a = s, *b = s + len;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			if (n + 2 > cap)
				v = xreallocarray(v, cap *= 2, sizeof(char *));
			v[n++] = xstrndup(a, (size_t)(b - a));
			v[n] = NULL;
		}
		s += len + (s[len] == ',');
	}
	return v;
}

/*
 * One engine action, on the calling thread's session (opened here the
 * first time). Returns 0 or a DA_E* code with the message set.
 */
static int dddp_action(struct run *run, struct console *con, struct dddp **session,
		       const struct catalog_dddp *x, const struct vars *env, unsigned timeout_s,
		       int cancel_fd, char **bookmark_out)
{
	const struct config *cfg = run->opts->cfg;
	char *database = NULL, *tmpl = NULL, *container = NULL, *name = NULL, *tags = NULL;
	char **tag_list = NULL, *ref = NULL;
	struct dddp_job job;
	uint64_t deadline;
	bool created = false;
	int rc;

	memset(&job, 0, sizeof(job));
	*bookmark_out = NULL;
	if ((rc = expand(&database, x->database, env, NULL)) < 0 ||
	    (rc = expand(&tmpl, x->template_name, env, NULL)) < 0 ||
	    (rc = expand(&container, x->container, env, NULL)) < 0 ||
	    (rc = expand(&name, x->bookmark, env, NULL)) < 0 ||
	    (rc = expand(&tags, x->tags, env, NULL)) < 0)
		goto out;
	if (!*session) {
		struct dddp_opts o = DDDP_OPTS_INIT;

		o.url = cfg->dddp.url;
		o.user = cfg->dddp.user;
		o.password = run->dddp_password;
		o.ca_file = cfg->dddp.ca_file;
		o.cancel_fd = cancel_fd;
		o.progress = on_dddp_progress;
		o.note = on_dddp_note;
		o.payload = con;
		if ((rc = dddp_new(session, &o)) < 0)
			goto out;
	}
	deadline = time_mono_ms() + 1000ull * (timeout_s ? timeout_s : DDDP_STEP_DEFAULT_TIMEOUT_S);
	switch (x->action) {
	case CATALOG_DDDP_SYNC:
		console_printf(con, "    sync of dSource '%s'\n", database);
		rc = dddp_sync(*session, &job, database, deadline);
		break;
	case CATALOG_DDDP_REFRESH:
		console_printf(con, "    refresh of VDB '%s' from its parent's latest snapshot\n", database);
		rc = dddp_refresh(*session, &job, database, deadline);
		break;
	case CATALOG_DDDP_CONTAINER_REFRESH:
		console_printf(con, "    spin-up of data pod '%s' (template '%s')\n", container, tmpl);
		rc = dddp_container_refresh(*session, &job, &created, tmpl, container, x->create, deadline);
		if (rc == 0 && created)
			console_printf(con, "    data pod '%s' created from template '%s'\n", container, tmpl);
		break;
	case CATALOG_DDDP_BOOKMARK: {
		struct dddp_bookmark_opts bo = { tmpl, container, name, NULL, x->shared };

		tag_list = split_tags(tags);
		bo.tags = (const char *const *)tag_list;
		if (*container)
			console_printf(con, "    bookmark '%s' of data pod '%s'%s\n", name, container,
				       x->shared ? ", shared" : "");
		else
			console_printf(con, "    bookmark '%s' of template '%s'%s\n", name, tmpl,
				       x->shared ? ", shared" : "");
		rc = dddp_bookmark(*session, &job, &ref, &bo, deadline);
		if (rc == 0)
			*bookmark_out = xasprintf("%s%s", name, x->shared ? " (shared)" : "");
		break;
	}
	}
	if (rc == 0 && ref)
		console_printf(con, "    bookmark %s made by %s\n", ref, job.ref);
out:
	dddp_job_dispose(&job);
	strv_free(tag_list);
	free(ref);
	free(database);
	free(tmpl);
	free(container);
	free(name);
	free(tags);
	return rc;
}

/* Run one engine step, with its retries (never after a refused login). */
static void run_dddp_step(struct step_outcome *so, struct run *run, struct console *con,
			  const struct catalog_step *step, const char *label,
			  const struct vars *branch_vars, int cancel_fd, struct dddp **session)
{
	struct vars env = { 0 };
	int rc = 0;

	vars_copy(&env, &run->base);
	if (branch_vars)
		vars_copy(&env, branch_vars);
	for (unsigned attempt = 0; attempt <= step->retries; attempt++) {
		uint64_t t0 = time_mono_ms();
		char took[32];
		char *bookmark = NULL;

		if (attempt > 0) {
			struct pollfd pfd = { cancel_fd, POLLIN, 0 };

			console_printf(con, "--- retrying step '%s' (attempt %u of %u) in %d ms\n",
				       step->name, attempt + 1, step->retries + 1, RETRY_DELAY_MS);
			if (poll(&pfd, cancel_fd >= 0 ? 1 : 0, RETRY_DELAY_MS) > 0)
				break;
		}
		console_printf(con, "==> %s %s: Delphix engine: %s\n", label, step->name,
			       catalog_dddp_action_name(step->dddp->action));
		rc = dddp_action(run, con, session, step->dddp, &env, step->timeout_s, cancel_fd,
				 &bookmark);
		time_format_duration(took, sizeof(took), time_mono_ms() - t0);
		if (rc == 0) {
			console_printf(con, "<== %s: ok (%s)%s%s\n", step->name, took,
				       bookmark ? ", bookmark " : "", bookmark ? bookmark : "");
			so->result = RUN_SUCCESS;
			so->exit_code = 0;
			free(so->summary);
			so->summary = NULL;
			free(so->bookmark);
			so->bookmark = bookmark;
			break;
		}
		free(bookmark);
		step_fail(so, rc == DA_ECANCELLED ? RUN_ABORTED : RUN_FAILURE, dddp_exit_code(rc),
			  "step '%s' failed: %s", step->name, error_last());
		console_printf(con, "<== %s: %s, %s (%s)\n", step->name,
			       rc == DA_ECANCELLED ? "cancelled" : "FAILED", error_last(), took);
		error_clear();
		/* A refused login is never tried again (lockout), nor a cancel or a config error. */
		if (rc == DA_EAUTH || rc == DA_ECANCELLED || rc == DA_EINVALID)
			break;
	}
	vars_dispose(&env);
}

/* Run one step, with its retries, writing to con. */
static void run_step(struct step_outcome *so, struct run *run, struct console *con,
		     const struct catalog_step *step, const char *label,
		     const struct vars *branch_vars, int cancel_fd, struct dddp **session)
{
	struct vars env = { 0 };
	char **argv = NULL, **envp = NULL;
	char *cwd = NULL, *workdir = NULL;
	struct buf shown;
	int rc;

	so->result = RUN_SUCCESS;
	so->exit_code = 0;
	so->summary = NULL;
	so->bookmark = NULL;
	if (step->dddp) {
		run_dddp_step(so, run, con, step, label, branch_vars, cancel_fd, session);
		if (so->result != RUN_SUCCESS && !so->summary)
			so->summary = xstrdup("failed");
		return;
	}
	buf_init(&shown, 1 << 16);

	if ((rc = step_environment(&env, run, step, branch_vars)) < 0 ||
	    (rc = expand(&workdir, step->workdir, &env, NULL)) < 0) {
		step_fail(so, RUN_FAILURE, RUN_EXIT_BADINPUT, "step '%s': %s", step->name, error_last());
		goto out;
	}
	if (!fs_relpath_is_safe(workdir)) {
		step_fail(so, RUN_FAILURE, RUN_EXIT_BADINPUT,
			  "step '%s': working directory '%s' leaves the workspace", step->name, workdir);
		goto out;
	}
	cwd = workdir[0] ? xasprintf("%s/%s", run->workspace, workdir) : xstrdup(run->workspace);
	argv = xcalloc(step->argc + 1, sizeof(char *));
	for (size_t i = 0; i < step->argc; i++) {
		/* A shell script is passed as written: values reach it as variables only. */
		if (step->shell) {
			argv[i] = xstrdup(step->argv[i]);
			continue;
		}
		if ((rc = expand(&argv[i], step->argv[i], &env, NULL)) < 0) {
			step_fail(so, RUN_FAILURE, RUN_EXIT_BADINPUT, "step '%s': %s", step->name,
				  error_last());
			goto out;
		}
	}
	envp = vars_to_envp(&env);
	describe_argv(&shown, argv);

	for (unsigned attempt = 0; attempt <= step->retries; attempt++) {
		struct proc_opts po = PROC_OPTS_INIT;
		struct proc_result pr;
		char took[32];

		if (attempt > 0) {
			console_printf(con, "--- retrying step '%s' (attempt %u of %u) in %d ms\n",
				       step->name, attempt + 1, step->retries + 1, RETRY_DELAY_MS);
			struct pollfd pfd = { cancel_fd, POLLIN, 0 };
			if (poll(&pfd, cancel_fd >= 0 ? 1 : 0, RETRY_DELAY_MS) > 0)
				break;
		}
		console_printf(con, "==> %s %s: %s\n", label, step->name, buf_cstr(&shown));
		po.argv = (const char *const *)argv;
		po.envp = (const char *const *)envp;
		po.cwd = cwd;
		po.timeout_ms = step->timeout_s * 1000u;
		po.cancel_fd = cancel_fd;
		po.on_output = on_child_output;
		po.payload = con;
		rc = proc_run(&pr, &po);
		console_flush(con);
		if (rc < 0) {
			step_fail(so, RUN_FAILURE, rc == DA_ENOTFOUND ? 127 : RUN_EXIT_SOFTWARE,
				  "step '%s' could not start: %s", step->name, error_last());
			console_printf(con, "<== %s: %s\n", step->name, so->summary);
			continue;
		}
		time_format_duration(took, sizeof(took), pr.elapsed_ms);
		if (pr.exited && pr.exit_code == 0) {
			console_printf(con, "<== %s: ok (%s)\n", step->name, took);
			so->result = RUN_SUCCESS;
			so->exit_code = 0;
			free(so->summary);
			so->summary = NULL;
			break;
		}
		if (pr.cancelled) {
			step_fail(so, RUN_ABORTED, RUN_EXIT_SIGNAL_BASE + 15, "step '%s' was cancelled",
				  step->name);
			console_printf(con, "<== %s: cancelled after %s\n", step->name, took);
			break;
		}
		step_fail(so, RUN_FAILURE,
			  pr.timed_out ? RUN_EXIT_TIMEOUT :
			  pr.exited ? pr.exit_code : RUN_EXIT_SIGNAL_BASE + pr.signal,
			  "step '%s' failed: %s", step->name, proc_result_describe(&pr));
		console_printf(con, "<== %s: FAILED, %s (%s)\n", step->name,
			       proc_result_describe(&pr), took);
	}
out:
	if (so->result != RUN_SUCCESS && !so->summary)
		so->summary = xstrdup("failed");
	strv_free(argv);
	strv_free(envp);
	free(cwd);
	free(workdir);
	vars_dispose(&env);
	buf_dispose(&shown);
}

/* ---- parallel branches ---- */

struct branch_job {
	struct run *run;
	const struct catalog_stage *stage;
	const struct catalog_branch *branch;
	int cancel_fd;     /* the block's: a fail-fast failure or the run's cancel */
	int done_fd;       /* written once when this branch ends */
	struct step_outcome outcome;
	char *bookmark;    /* the branch's last bookmark, for the table */
	uint64_t elapsed_ms;
};

static void *branch_main(void *arg)
{
	struct branch_job *job = arg;
	const struct catalog_branch *br = job->branch;
	struct vars bvars = { 0 };
	struct console con;
	struct dddp *session = NULL;
	char index[16];
	uint64_t start = time_mono_ms(), one = 1;

	snprintf(index, sizeof(index), "%u", br->index);
	vars_set(&bvars, "BRANCH", br->name);
	vars_set(&bvars, "BRANCH_INDEX", index);
	console_init(&con, job->run->opts->console, br->name);
	job->outcome.result = RUN_SUCCESS;
	job->outcome.exit_code = 0;
	job->outcome.summary = NULL;
	job->outcome.bookmark = NULL;
	for (size_t i = 0; i < br->step_count; i++) {
		char label[64];

		snprintf(label, sizeof(label), "[%zu/%zu]", i + 1, br->step_count);
		run_step(&job->outcome, job->run, &con, &br->steps[i], label, &bvars, job->cancel_fd,
			 &session);
		if (job->outcome.bookmark) {
			free(job->bookmark);
			job->bookmark = job->outcome.bookmark;
			job->outcome.bookmark = NULL;
		}
		if (job->outcome.result != RUN_SUCCESS)
			break;
		free(job->outcome.summary);
		job->outcome.summary = NULL;
	}
	dddp_free(session); /* this branch's engine session: logged out here */
	job->elapsed_ms = time_mono_ms() - start;
	console_dispose(&con);
	vars_dispose(&bvars);
	if (job->outcome.result != RUN_SUCCESS && job->stage->fail_fast) {
		if (write(job->cancel_fd, &one, sizeof(one)) < 0)
			(void)0; /* the block is being cancelled anyway */
	}
	if (write(job->done_fd, &one, sizeof(one)) < 0)
		(void)0;
	return NULL;
}

static void run_parallel(struct step_outcome *so, struct run *run, const struct catalog_stage *stage,
			 const char *label)
{
	size_t n = stage->branch_count, done = 0;
	struct branch_job *jobs = xcalloc(n, sizeof(*jobs));
	pthread_t *threads = xcalloc(n, sizeof(*threads));
	bool *started = xcalloc(n, sizeof(bool));
	int block_cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct console *con = &run->console;
	uint64_t one = 1;
	size_t failed = 0;

	so->result = RUN_SUCCESS;
	so->exit_code = 0;
	so->summary = NULL;
	so->bookmark = NULL;
	if (block_cancel < 0 || done_fd < 0) {
		step_fail(so, RUN_FAILURE, RUN_EXIT_SOFTWARE, "cannot create eventfd: %s", strerror(errno));
		goto out;
	}
	console_printf(con, "==> %s parallel '%s': %zu branches%s\n", label, stage->name, n,
		       stage->fail_fast ? " (fail fast)" : "");
	for (size_t i = 0; i < n; i++) {
		jobs[i].run = run;
		jobs[i].stage = stage;
		jobs[i].branch = &stage->branches[i];
		jobs[i].cancel_fd = block_cancel;
		jobs[i].done_fd = done_fd;
		if (pthread_create(&threads[i], NULL, branch_main, &jobs[i]) != 0) {
			jobs[i].outcome.result = RUN_FAILURE;
			jobs[i].outcome.summary = xstrdup("could not start a thread");
			done++;
			continue;
		}
		started[i] = true;
	}
	/* Wait for the branches, relaying the run's cancel to the block. */
	while (done < n) {
		struct pollfd pfd[2] = { { done_fd, POLLIN, 0 }, { run->opts->cancel_fd, POLLIN, 0 } };
		uint64_t count;

		if (poll(pfd, run->opts->cancel_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN && run->opts->cancel_fd >= 0)
			if (write(block_cancel, &one, sizeof(one)) < 0)
				(void)0;
		if (pfd[0].revents & POLLIN && read(done_fd, &count, sizeof(count)) == sizeof(count))
			done += count;
	}
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);

	console_printf(con, "--- parallel '%s' results:\n", stage->name);
	for (size_t i = 0; i < n; i++) {
		char took[32];
		struct step_outcome *bo = &jobs[i].outcome;

		time_format_duration(took, sizeof(took), jobs[i].elapsed_ms);
		if (bo->result == RUN_SUCCESS && jobs[i].bookmark)
			console_printf(con, "    %-16s %-9s %8s  bookmark %s\n", stage->branches[i].name,
				       run_result_name(bo->result), took, jobs[i].bookmark);
		else
			console_printf(con, "    %-16s %-9s %8s  %s\n", stage->branches[i].name,
				       run_result_name(bo->result), took, bo->summary ? bo->summary : "");
		if (bo->result == RUN_SUCCESS)
			continue;
		if (failed++ == 0) {
			so->exit_code = bo->exit_code;
			so->result = bo->result;
		} else if (bo->result == RUN_FAILURE) {
			so->result = RUN_FAILURE;
		}
	}
	if (failed) {
		if (failed > 1)
			so->exit_code = 1;
		step_fail(so, so->result, so->exit_code, "parallel '%s': %zu of %zu branches failed",
			  stage->name, failed, n);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].outcome.summary);
		free(jobs[i].outcome.bookmark);
		free(jobs[i].bookmark);
	}
	free(jobs);
	free(threads);
	free(started);
	if (block_cancel >= 0)
		close(block_cancel);
	if (done_fd >= 0)
		close(done_fd);
}

/* ---- the run ---- */

static char *workspace_path(const struct run_opts *opts, const char *job_name)
{
	static atomic_uint counter;
	struct buf b;

	buf_init(&b, 4096);
	buf_printf(&b, "%s/workspaces/", opts->cfg->agent.state_dir);
	for (const char *c = job_name; *c; c++)
		buf_putc(&b, (*c == '/' || *c == ' ') ? '_' : *c);
	buf_printf(&b, "-%ld-%u", (long)getpid(), atomic_fetch_add(&counter, 1));
	return buf_detach(&b);
}

static void base_variables(struct run *run, const char *job_name)
{
	const struct run_opts *opts = run->opts;
	char *env = NULL, *module = NULL;

	for (const char *const *name = inherited_vars; *name; name++) {
		size_t len = strlen(*name);
		for (char *const *e = opts->agent_envp; e && *e; e++)
			if (strncmp(*e, *name, len) == 0 && (*e)[len] == '=')
				vars_set(&run->base, *name, *e + len + 1);
	}
	if (!vars_get(&run->base, "PATH"))
		vars_set(&run->base, "PATH", "/usr/local/bin:/usr/bin:/bin");
	jobpath_env_module(job_name, &env, &module);
	vars_set(&run->base, "JOB_NAME", job_name);
	vars_set(&run->base, "env", opts->env ? opts->env : env ? env : "");
	vars_set(&run->base, "module", module ? module : "");
	vars_set(&run->base, "NODE_NAME", opts->cfg->jenkins.node ? opts->cfg->jenkins.node : "");
	vars_set(&run->base, "STATE_DIR", opts->cfg->agent.state_dir);
	vars_set(&run->base, "WORKSPACE", run->workspace);
	vars_set(&run->base, "GIT_COMMIT", "");
	vars_set(&run->base, "GIT_REF", "");
	vars_set(&run->base, "BRANCH", "");
	vars_set(&run->base, "BRANCH_INDEX", "");
	{
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H%M%S", &tm);
		vars_set(&run->base, "RUN_STARTED", stamp);
	}
	free(env);
	free(module);
}

static void print_params(struct console *con, const struct catalog_operation *op,
			 const struct vars *v)
{
	if (op->param_count == 0)
		return;
	console_printf(con, "Parameters:\n");
	for (size_t i = 0; i < op->param_count; i++) {
		const struct catalog_param *p = &op->params[i];
		const char *value = vars_get(v, p->name);
		console_printf(con, "  %s = %s\n", p->name, p->secret ? "****" : value);
	}
}

/* Resolve the ref and check its tree out into the workspace. */
static int checkout(struct run_outcome *out, struct run *run)
{
	const struct catalog_operation *op = run->opts->op;
	const struct catalog_param *ref = catalog_ref_param(op);
	const char *name = vars_get(&run->base, ref->name);
	struct mirror_resolution res;
	char *mirror = NULL;
	uint64_t t0 = time_mono_ms();
	char took[32];
	int rc;

	console_printf(&run->console, "Fetching %s\n", op->repository);
	rc = mirror_fetch(&mirror, run->opts->cfg->git.cache_dir, op->repository);
	if (rc < 0) {
		out->exit_code = RUN_EXIT_TEMPFAIL;
		goto out;
	}
	rc = mirror_resolve(&res, mirror, op->repository, name);
	if (rc < 0) {
		out->exit_code = RUN_EXIT_BADINPUT;
		goto out;
	}
	if (res.note)
		console_printf(&run->console, "Note: %s\n", res.note);
	console_printf(&run->console, "Resolved %s='%s' to %s (%s) at commit %s in %s\n", ref->name,
		       name, res.ref, res.annotated ? "annotated tag" :
		       strncmp(res.ref, "refs/tags/", 10) == 0 ? "lightweight tag" : "branch",
		       res.commit, time_format_duration(took, sizeof(took), time_mono_ms() - t0));
	memcpy(out->commit, res.commit, sizeof(out->commit));
	out->version = xstrdup(res.version);
	vars_set(&run->base, "GIT_COMMIT", res.commit);
	vars_set(&run->base, "GIT_REF", res.ref);
	rc = mirror_checkout(mirror, res.commit, run->workspace);
	if (rc == 0)
		console_printf(&run->console, "Checked out %.12s into %s\n", res.commit, run->workspace);
	else
		out->exit_code = RUN_EXIT_SOFTWARE;
	mirror_resolution_dispose(&res);
out:
	free(mirror);
	return rc;
}

static int take_inputs(struct run_outcome *out, struct run *run)
{
	const struct run_opts *opts = run->opts;
	const struct catalog_operation *op = opts->op;

	for (size_t i = 0; i < op->input_count; i++) {
		const struct catalog_input *in = &op->inputs[i];
		char sha[ARTIFACT_SHA256_HEX];
		char *version = NULL, *dest = NULL, *path = NULL;
		int rc;

		if ((rc = expand(&version, in->version, &run->base, NULL)) < 0 ||
		    (rc = expand(&dest, in->dest, &run->base, NULL)) < 0)
			goto fail;
		if (!fs_relpath_is_safe(dest)) {
			error_set("input '%s' of %s goes to '%s', outside the workspace", in->name,
				  in->operation, dest);
			rc = DA_EINVALID;
			goto fail;
		}
		path = xasprintf("%s/%s", run->workspace, dest);
		rc = artifact_fetch(sha, opts->cfg->agent.state_dir, in->operation, version,
				    in->name, path);
		if (rc == 0)
			console_printf(&run->console, "Took %s of %s version %s (sha256 %s) as %s\n",
				       in->name, in->operation, version, sha, dest);
fail:
		free(version);
		free(dest);
		free(path);
		if (rc < 0) {
			out->exit_code = RUN_EXIT_BADINPUT;
			return rc;
		}
	}
	return 0;
}

static int store_outputs(struct run_outcome *out, struct run *run)
{
	const struct run_opts *opts = run->opts;
	const struct catalog_operation *op = opts->op;
	const char *version = out->version ? out->version : "unversioned";

	for (size_t i = 0; i < op->output_count; i++) {
		const struct catalog_output *o = &op->outputs[i];
		char sha[ARTIFACT_SHA256_HEX];
		char *rel = NULL, *path = NULL;
		int rc;

		if ((rc = expand(&rel, o->path, &run->base, NULL)) == 0) {
			if (!fs_relpath_is_safe(rel)) {
				error_set("output '%s' is at '%s', outside the workspace", o->name, rel);
				rc = DA_EINVALID;
			} else {
				path = xasprintf("%s/%s", run->workspace, rel);
				rc = artifact_store(sha, opts->cfg->agent.state_dir, op->path, version,
						    o->name, path);
			}
		}
		if (rc == 0)
			console_printf(&run->console, "Stored %s (sha256 %s) as %s version %s\n", rel,
				       sha, o->name, version);
		free(rel);
		free(path);
		if (rc < 0) {
			out->exit_code = RUN_EXIT_SOFTWARE;
			return rc;
		}
	}
	return 0;
}

static bool op_uses_dddp(const struct catalog_operation *op)
{
	for (size_t i = 0; i < op->stage_count; i++) {
		const struct catalog_stage *st = &op->stages[i];

		if (st->kind == CATALOG_STAGE_STEP && st->step.dddp)
			return true;
		for (size_t b = 0; st->kind == CATALOG_STAGE_PARALLEL && b < st->branch_count; b++)
			for (size_t k = 0; k < st->branches[b].step_count; k++)
				if (st->branches[b].steps[k].dddp)
					return true;
	}
	return false;
}

/* The engine's URL, user and password, checked before any step runs. */
static int dddp_credentials(struct run *run)
{
	const struct config *cfg = run->opts->cfg;
	const char *conf = cfg->path ? cfg->path : "the config";

	if (!cfg->dddp.url || !*cfg->dddp.url || !cfg->dddp.user || !*cfg->dddp.user) {
		error_set("%s acts on the Delphix engine: set [dddp] url and user in %s",
			  run->opts->op->path, conf);
		return DA_EINVALID;
	}
	return config_read_secret(&run->dddp_password, "[dddp] password_file",
				  cfg->dddp.password_file, "DATAOPS_DDDP_PASSWORD",
				  run->opts->agent_envp);
}

int run_execute(struct run_outcome *out, const struct run_opts *opts)
{
	const struct catalog_operation *op = opts->op;
	struct run run = { 0 };
	char *job_name = NULL;
	uint64_t start = time_mono_ms();
	char took[32];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->result = RUN_FAILURE;
	run.opts = opts;
	console_init(&run.console, opts->console, NULL);
	job_name = opts->job_name ? xstrdup(opts->job_name) :
		   jobpath_expand(op->path, opts->env ? opts->env : "");
	run.workspace = workspace_path(opts, job_name);
	base_variables(&run, job_name);

	console_printf(&run.console, "Started %s (%s) on %s with dataops-agent %s\n", job_name,
		       op->display_name, opts->cfg->jenkins.node ? opts->cfg->jenkins.node : "this host",
		       DA_VERSION);
	if ((rc = resolve_params(&run.base, op, opts->params)) < 0) {
		out->exit_code = RUN_EXIT_BADINPUT;
		goto failed;
	}
	print_params(&run.console, op, &run.base);
	if (op_uses_dddp(op) && (rc = dddp_credentials(&run)) < 0) {
		out->exit_code = RUN_EXIT_CONFIG;
		goto failed;
	}
	if ((rc = fs_mkdir_p(run.workspace, 0700)) < 0) {
		out->exit_code = RUN_EXIT_SOFTWARE;
		goto failed;
	}
	if (op->repository) {
		/* The mirror checks out into a directory that must be empty or absent. */
		rmdir(run.workspace);
		if ((rc = checkout(out, &run)) < 0)
			goto failed;
	}
	if ((rc = take_inputs(out, &run)) < 0)
		goto failed;

	out->result = RUN_SUCCESS;
	for (size_t i = 0; i < op->stage_count; i++) {
		const struct catalog_stage *stage = &op->stages[i];
		struct step_outcome so;
		char label[64];

		snprintf(label, sizeof(label), "[%zu/%zu]", i + 1, op->stage_count);
		if (stage->kind == CATALOG_STAGE_STEP)
			run_step(&so, &run, &run.console, &stage->step, label, NULL, opts->cancel_fd,
				 &run.dddp);
		else
			run_parallel(&so, &run, stage, label);
		free(so.bookmark);
		if (so.result != RUN_SUCCESS) {
			out->result = so.result;
			out->exit_code = so.exit_code;
			out->summary = so.summary;
			break;
		}
		free(so.summary);
	}
	if (out->result == RUN_SUCCESS && store_outputs(out, &run) < 0) {
		rc = DA_ERROR;
		goto failed;
	}
	goto done;

failed:
	out->result = RUN_FAILURE;
	out->summary = xstrdup(error_last());
	rc = 0;
done:
	if (!out->summary)
		out->summary = xstrdup("");
	if (fs_remove_tree(run.workspace) < 0)
		console_printf(&run.console, "warning: %s\n", error_last());
	out->duration_ms = (unsigned long)(time_mono_ms() - start);
	if (out->result != RUN_SUCCESS && out->summary[0])
		console_printf(&run.console, "ERROR: %s\n", out->summary);
	console_printf(&run.console, "%s: %s (%s)\n", opts->in_record ? "Result" : "Finished",
		       run_result_name(out->result),
		       time_format_duration(took, sizeof(took), out->duration_ms));
	dddp_free(run.dddp);
	if (run.dddp_password) {
		explicit_bzero(run.dddp_password, strlen(run.dddp_password));
		free(run.dddp_password);
	}
	console_dispose(&run.console);
	vars_dispose(&run.base);
	free(run.workspace);
	free(job_name);
	return rc;
}

void run_outcome_dispose(struct run_outcome *o)
{
	if (!o)
		return;
	free(o->version);
	free(o->summary);
	o->version = NULL;
	o->summary = NULL;
}
