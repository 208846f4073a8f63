/*
 * config.c - agent.conf, the DATAOPS_* environment and flags, and secrets.
 *
 * Every value goes through config_apply(), whatever its origin, so the
 * file, the environment and the flags are checked by the same code. That
 * code writes the message without a location ("[agent] executors: 'x' is
 * not a number between 1 and 64"); the caller that knows the origin
 * (file:line, variable, flag) prefixes it once.
 *
 * Values are echoed in messages so the user sees what was wrong, except
 * where a secret could plausibly have been pasted: *_file paths, [secrets]
 * values, URLs with an '@' (credentials) and lines that do not parse.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "redact.h"
#include "fsutil.h"
#include "xmalloc.h"

/* Only agent/ gets the install prefix from CMake; common/ uses the usual one. */
#ifndef DA_DEFAULT_CATALOG
#define DA_DEFAULT_CATALOG "/usr/share/dataops-agent/jobs"
#endif

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_LINE_MAX 4096
#define CONFIG_SECRET_MAX (64 * 1024)
#define CONFIG_ENV_PREFIX "DATAOPS_"
#define CONFIG_FILE_SUFFIX "_file"
#define CONFIG_POLL_MIN_MS 100u
#define CONFIG_POLL_MAX_MS 3600000u
#define CONFIG_EXECUTORS_MAX 64u

enum config_kind {
	CONFIG_STRING,    /* non-empty text */
	CONFIG_OPTIONAL,  /* text; empty means unset */
	CONFIG_PATH,      /* non-empty path */
	CONFIG_FILE,      /* absolute path of a file holding a secret */
	CONFIG_URL,       /* http(s)://..., trailing slashes dropped */
	CONFIG_EXECUTORS, /* 1..64 */
	CONFIG_INTERVAL,  /* 100ms..1h */
	CONFIG_MEBIBYTES, /* 0..1048576, in MiB */
	CONFIG_ENVS,      /* list of path segments */
	CONFIG_LOG_LEVEL, /* error, warn, info, debug */
};

struct config_key {
	const char *section;
	const char *key;
	enum config_kind kind;
	size_t offset; /* of the field in struct config */
};

#define CONFIG_KEY(s, k, kind, field) { s, k, kind, offsetof(struct config, field) }

static const struct config_key config_keys[] = {
	CONFIG_KEY("jenkins", "url", CONFIG_URL, jenkins.url),
	CONFIG_KEY("jenkins", "user", CONFIG_OPTIONAL, jenkins.user),
	CONFIG_KEY("jenkins", "token_file", CONFIG_FILE, jenkins.token_file),
	CONFIG_KEY("jenkins", "node", CONFIG_STRING, jenkins.node),
	CONFIG_KEY("jenkins", "labels", CONFIG_STRING, jenkins.labels),
	CONFIG_KEY("jenkins", "ca_file", CONFIG_OPTIONAL, jenkins.ca_file),
	CONFIG_KEY("agent", "catalog", CONFIG_PATH, agent.catalog),
	CONFIG_KEY("agent", "state_dir", CONFIG_PATH, agent.state_dir),
	CONFIG_KEY("agent", "executors", CONFIG_EXECUTORS, agent.executors),
	CONFIG_KEY("agent", "poll_interval", CONFIG_INTERVAL, agent.poll_interval_ms),
	CONFIG_KEY("agent", "envs", CONFIG_ENVS, agent.envs),
	CONFIG_KEY("agent", "stop_grace", CONFIG_INTERVAL, agent.stop_grace_ms),
	CONFIG_KEY("agent", "claim_reconcile", CONFIG_INTERVAL, agent.claim_reconcile_ms),
	CONFIG_KEY("agent", "min_free_mb", CONFIG_MEBIBYTES, agent.min_free_mb),
	CONFIG_KEY("agent", "keep_runs_mb", CONFIG_MEBIBYTES, agent.keep_runs_mb),
	CONFIG_KEY("agent", "log_level", CONFIG_LOG_LEVEL, agent.log_level),
	CONFIG_KEY("agent", "cgroup", CONFIG_STRING, agent.cgroup),
	CONFIG_KEY("git", "cache_dir", CONFIG_PATH, git.cache_dir),
	CONFIG_KEY("dddp", "url", CONFIG_URL, dddp.url),
	CONFIG_KEY("dddp", "user", CONFIG_OPTIONAL, dddp.user),
	CONFIG_KEY("dddp", "password_file", CONFIG_FILE, dddp.password_file),
	CONFIG_KEY("dddp", "ca_file", CONFIG_OPTIONAL, dddp.ca_file),
};
#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_sections[] = {
	"jenkins", "agent", "git", "dddp", "secrets",
};
#define CONFIG_NSECTIONS (sizeof(config_sections) / sizeof(config_sections[0]))

/*
 * Environment variables that hold a secret's value, not a path: they are
 * read by config_read_secret() and must not be taken for unknown keys.
 * [secrets] values (DATAOPS_SECRETS_<NAME>) are recognised by their lack
 * of a _FILE suffix instead.
 */
static const struct {
	const char *section, *key, *env;
} config_secret_values[] = {
	{ "jenkins", "token", "DATAOPS_JENKINS_TOKEN" },
	{ "dddp", "password", "DATAOPS_DDDP_PASSWORD" },
};

static const char *const config_log_levels[] = { "error", "warn", "info", "debug" };

/* Per-file state: where we are, and where each key was first set. */
struct config_parser {
	struct config *cfg;
	const char *section;           /* NULL before the first [section] */
	unsigned lineno;
	unsigned key_line[CONFIG_NKEYS]; /* 0: not set in this file */
	unsigned *secret_line;         /* parallel to cfg->secrets */
};

static bool config_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim blanks in place; returns the start. */
static char *config_trim(char *s)
{
	size_t n;

	while (config_is_blank(*s))
		s++;
	n = strlen(s);
	while (n && config_is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool config_is_name(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || strchr(extra, c)))
			return false;
	}
	return true;
}

static const char *config_section_find(const char *name)
{
	for (size_t i = 0; i < CONFIG_NSECTIONS; i++)
		if (strcmp(config_sections[i], name) == 0)
			return config_sections[i];
	return NULL;
}

static const struct config_key *config_key_find(const char *section, const char *key)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].key, key) == 0)
			return &config_keys[i];
	return NULL;
}

static char **config_str_field(struct config *cfg, const struct config_key *k)
{
	return (char **)(void *)((char *)cfg + k->offset);
}

static unsigned *config_uint_field(struct config *cfg, const struct config_key *k)
{
	return (unsigned *)(void *)((char *)cfg + k->offset);
}

static void config_replace(char **field, char *value)
{
	free(*field);
	*field = value;
}

/* Index of the [secrets] entry named by the first len bytes of name, or -1. */
static long config_secret_find(const struct config *cfg, const char *name, size_t len)
{
	for (size_t i = 0; i < cfg->secret_count; i++)
		if (strlen(cfg->secrets[i].name) == len &&
		    memcmp(cfg->secrets[i].name, name, len) == 0)
			return (long)i;
	return -1;
}

/* "<dir>/git" without a doubled slash. */
static char *config_join_git(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		n = 0;
	return xasprintf("%.*s/git", (int)n, dir);
}

/* Digits only, so "+4", " 4" and "4x" are refused; false on overflow. */
static bool config_parse_digits(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long n = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (unsigned long long)(s[i] - '0');
	}
	*out = n;
	return true;
}

static int config_parse_url(char **out, const struct config_key *k, const char *value)
{
	size_t len = strlen(value), skip;

	/* user:token@host would put a credential in messages and logs. */
	if (strchr(value, '@')) {
		error_set("[%s] %s: credentials in the URL are not allowed; "
			  "use the user and *_file keys", k->section, k->key);
		return DA_EINVALID;
	}
	if (strncmp(value, "http://", 7) == 0) {
		skip = 7;
	} else if (strncmp(value, "https://", 8) == 0) {
		skip = 8;
	} else {
		error_set("[%s] %s: '%s' does not start with http:// or https://",
			  k->section, k->key, value);
		return DA_EINVALID;
	}
	if (strpbrk(value, " \t\r\n")) {
		error_set("[%s] %s: '%s' contains white space", k->section, k->key, value);
		return DA_EINVALID;
	}
	while (len > skip && value[len - 1] == '/')
		len--;
	if (len == skip || value[skip] == '/') {
		error_set("[%s] %s: '%s' has no host", k->section, k->key, value);
		return DA_EINVALID;
	}
	*out = xstrndup(value, len);
	return 0;
}

static int config_parse_executors(unsigned *out, const struct config_key *k, const char *value)
{
	unsigned long long n;

	if (!config_parse_digits(value, strlen(value), &n) || n < 1 ||
	    n > CONFIG_EXECUTORS_MAX) {
		error_set("[%s] %s: '%s' is not a number between 1 and %u",
			  k->section, k->key, value, CONFIG_EXECUTORS_MAX);
		return DA_EINVALID;
	}
	*out = (unsigned)n;
	return 0;
}

/* "2" and "2s" are seconds; "500ms", "1m" and "1h" say their unit. */
static int config_parse_interval(unsigned *out, const struct config_key *k, const char *value)
{
	size_t digits = strspn(value, "0123456789");
	const char *unit = value + digits;
	unsigned long long n, scale;

	if (*unit == '\0' || strcmp(unit, "s") == 0)
		scale = 1000;
	else if (strcmp(unit, "ms") == 0)
		scale = 1;
	else if (strcmp(unit, "m") == 0)
		scale = 60 * 1000;
	else if (strcmp(unit, "h") == 0)
		scale = 60 * 60 * 1000;
	else
		scale = 0;
	/* n is capped before the product, so it cannot overflow. */
	if (!scale || !config_parse_digits(value, digits, &n) ||
	    n > CONFIG_POLL_MAX_MS || n * scale < CONFIG_POLL_MIN_MS ||
	    n * scale > CONFIG_POLL_MAX_MS) {
		error_set("[%s] %s: '%s' is not a duration between 100ms and 1h "
			  "(like 2s or 500ms)", k->section, k->key, value);
		return DA_EINVALID;
	}
	*out = (unsigned)(n * scale);
	return 0;
}

static int config_parse_mebibytes(unsigned *out, const struct config_key *k, const char *value)
{
	size_t digits = strspn(value, "0123456789");
	unsigned long long n;

	if (value[digits] != '\0' || !config_parse_digits(value, digits, &n) || n > 1048576) {
		error_set("[%s] %s: '%s' is not a number of MiB between 0 and 1048576", k->section,
			  k->key, value);
		return DA_EINVALID;
	}
	*out = (unsigned)n;
	return 0;
}

static void config_free_list(char **list)
{
	if (!list)
		return;
	for (size_t i = 0; list[i]; i++)
		free(list[i]);
	free(list);
}

/* Each env becomes a Jenkins path segment, hence the narrow alphabet. */
static int config_parse_envs(struct config *cfg, const struct config_key *k, const char *value)
{
	char **envs = NULL, *tok = NULL;
	size_t count = 0;
	const char *p = value;
	int rc = 0;

	for (;;) {
		size_t n;

		p += strspn(p, ", \t");
		if (!*p)
			break;
		n = strcspn(p, ", \t");
		tok = xstrndup(p, n);
		p += n;
		if (!config_is_name(tok, ".-") || strcmp(tok, ".") == 0 ||
		    strcmp(tok, "..") == 0) {
			error_set("[%s] %s: '%s' is not a valid environment name "
				  "(letters, digits, '.', '_', '-')", k->section, k->key, tok);
			rc = DA_EINVALID;
			goto out;
		}
		for (size_t i = 0; i < count; i++) {
			if (strcmp(envs[i], tok) == 0) {
				error_set("[%s] %s: '%s' is listed twice", k->section, k->key, tok);
				rc = DA_EINVALID;
				goto out;
			}
		}
		envs = xreallocarray(envs, count + 2, sizeof(*envs));
		envs[count++] = tok;
		envs[count] = NULL;
		tok = NULL; /* envs owns it now */
	}
	if (!count) {
		error_set("[%s] %s: no environment given", k->section, k->key);
		rc = DA_EINVALID;
		goto out;
	}
	config_free_list(cfg->agent.envs);
	cfg->agent.envs = envs;
	cfg->agent.env_count = count;
	envs = NULL; /* cfg owns them now */
out:
	free(tok);
	config_free_list(envs);
	return rc;
}

static int config_parse_log_level(char **out, const struct config_key *k, const char *value)
{
	for (size_t i = 0; i < sizeof(config_log_levels) / sizeof(config_log_levels[0]); i++) {
		if (strcmp(config_log_levels[i], value) == 0) {
			*out = xstrdup(value);
			return 0;
		}
	}
	error_set("[%s] %s: '%s' is not one of error, warn, info, debug",
		  k->section, k->key, value);
	return DA_EINVALID;
}

/*
 * "token = ..." in [jenkins] is the likeliest way a secret lands in the
 * file; say where it belongs instead (the value is never echoed).
 */
static int config_unknown_key(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof(config_secret_values) / sizeof(config_secret_values[0]); i++) {
		if (strcmp(section, config_secret_values[i].section) == 0 &&
		    strcmp(key, config_secret_values[i].key) == 0) {
			error_set("unknown key '%s' in [%s]; put the secret in a file "
				  "named by %s_file, or in %s", key, section, key,
				  config_secret_values[i].env);
			return DA_EINVALID;
		}
	}
	error_set("unknown key '%s' in [%s]", key, section);
	return DA_EINVALID;
}

/* One known key; the message has no location, the caller adds it. */
static int config_apply_key(struct config *cfg, const struct config_key *k, const char *value)
{
	char *str = NULL;
	int rc = 0;

	switch (k->kind) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		if (!*value) {
			error_set("[%s] %s: the value is empty", k->section, k->key);
			return DA_EINVALID;
		}
		str = xstrdup(value);
		break;
	case CONFIG_OPTIONAL:
		str = *value ? xstrdup(value) : NULL;
		break;
	case CONFIG_FILE:
		/* Not echoed: it may be the secret itself, pasted by mistake. */
		if (value[0] != '/') {
			error_set("[%s] %s: not an absolute path (it names the file "
				  "that holds the secret)", k->section, k->key);
			return DA_EINVALID;
		}
		str = xstrdup(value);
		break;
	case CONFIG_URL:
		rc = config_parse_url(&str, k, value);
		break;
	case CONFIG_LOG_LEVEL:
		rc = config_parse_log_level(&str, k, value);
		break;
	case CONFIG_EXECUTORS:
		return config_parse_executors(config_uint_field(cfg, k), k, value);
	case CONFIG_INTERVAL:
		return config_parse_interval(config_uint_field(cfg, k), k, value);
	case CONFIG_MEBIBYTES:
		return config_parse_mebibytes(config_uint_field(cfg, k), k, value);
	case CONFIG_ENVS:
		return config_parse_envs(cfg, k, value);
	}
	if (rc < 0)
		return rc;
	config_replace(config_str_field(cfg, k), str);
	return 0;
}

/* "[secrets] <name>_file = /path"; values are never echoed here. */
static int config_apply_secret(struct config *cfg, const char *key, const char *value)
{
	size_t klen = strlen(key), slen = strlen(CONFIG_FILE_SUFFIX), nlen;
	long i;

	if (klen <= slen || strcmp(key + klen - slen, CONFIG_FILE_SUFFIX) != 0) {
		error_set("[secrets] %s: keys here name files: <name>_file = /path", key);
		return DA_EINVALID;
	}
	nlen = klen - slen;
	for (size_t j = 0; j < nlen; j++) {
		char c = key[j];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
			error_set("[secrets] %s: a secret's name is lower-case letters, "
				  "digits and '_'", key);
			return DA_EINVALID;
		}
	}
	if (value[0] != '/') {
		error_set("[secrets] %s: not an absolute path (it names the file "
			  "that holds the secret)", key);
		return DA_EINVALID;
	}
	i = config_secret_find(cfg, key, nlen);
	if (i >= 0) {
		config_replace(&cfg->secrets[i].path, xstrdup(value));
		return 0;
	}
	cfg->secrets = xreallocarray(cfg->secrets, cfg->secret_count + 1, sizeof(*cfg->secrets));
	cfg->secrets[cfg->secret_count].name = xstrndup(key, nlen);
	cfg->secrets[cfg->secret_count].path = xstrdup(value);
	cfg->secret_count++;
	return 0;
}

static int config_apply(struct config *cfg, const char *section, const char *key,
			const char *value)
{
	const struct config_key *k;
	int rc;

	if (!config_section_find(section)) {
		error_set("unknown section [%s]", section);
		return DA_EINVALID;
	}
	if (strcmp(section, "secrets") == 0)
		return config_apply_secret(cfg, key, value);
	k = config_key_find(section, key);
	if (!k)
		return config_unknown_key(section, key);
	rc = config_apply_key(cfg, k, value);
	if (rc < 0)
		return rc;
	/* A derived cache_dir follows state_dir; a chosen one stays put. */
	if (k->offset == offsetof(struct config, git.cache_dir)) {
		cfg->git.cache_dir_derived = false;
	} else if (k->offset == offsetof(struct config, agent.state_dir) &&
		   cfg->git.cache_dir_derived) {
		config_replace(&cfg->git.cache_dir, config_join_git(cfg->agent.state_dir));
	}
	return 0;
}

static void config_defaults(struct config *cfg)
{
	cfg->jenkins.labels = xstrdup("dataops-agent");
	cfg->agent.catalog = xstrdup(DA_DEFAULT_CATALOG);
	cfg->agent.state_dir = xstrdup("/var/lib/dataops-agent");
	cfg->agent.executors = 2;
	cfg->agent.poll_interval_ms = 2000;
	cfg->agent.stop_grace_ms = 10 * 60 * 1000;
	cfg->agent.claim_reconcile_ms = 2 * 60 * 1000;
	cfg->agent.min_free_mb = 64;
	cfg->agent.keep_runs_mb = 2048;
	cfg->agent.envs = xcalloc(2, sizeof(*cfg->agent.envs));
	cfg->agent.envs[0] = xstrdup("dev");
	cfg->agent.env_count = 1;
	cfg->agent.log_level = xstrdup("info");
	cfg->agent.cgroup = xstrdup("auto");
}

/* Defaults that depend on other keys, once every layer is in. */
static int config_finish(struct config *cfg)
{
	if (!cfg->jenkins.node) {
		char host[HOST_NAME_MAX + 1];

		if (gethostname(host, sizeof(host)) < 0) {
			error_set_errno("cannot get the host name for [jenkins] node; set it");
			return DA_ERROR;
		}
		host[sizeof(host) - 1] = '\0';
		if (!host[0]) {
			error_set("the host name is empty; set [jenkins] node");
			return DA_EINVALID;
		}
		cfg->jenkins.node = xstrdup(host);
	}
	if (!cfg->git.cache_dir) {
		cfg->git.cache_dir = config_join_git(cfg->agent.state_dir);
		cfg->git.cache_dir_derived = true;
	}
	return 0;
}

/* The message for every line we cannot read; the line is not echoed. */
static int config_syntax_error(void)
{
	error_set("line is not 'key = value' or '[section]'");
	return DA_EINVALID;
}

static int config_parse_assignment(struct config_parser *p, const char *key, const char *value)
{
	struct config *cfg = p->cfg;
	const struct config_key *k;
	size_t before, idx, klen;
	long i;
	int rc;

	if (strcmp(p->section, "secrets") == 0) {
		klen = strlen(key);
		if (klen > strlen(CONFIG_FILE_SUFFIX) &&
		    strcmp(key + klen - strlen(CONFIG_FILE_SUFFIX), CONFIG_FILE_SUFFIX) == 0) {
			i = config_secret_find(cfg, key, klen - strlen(CONFIG_FILE_SUFFIX));
			if (i >= 0) {
				error_set("[secrets] %s is set twice (first on line %u)",
					  key, p->secret_line[i]);
				return DA_EINVALID;
			}
		}
		before = cfg->secret_count;
		rc = config_apply_secret(cfg, key, value);
		if (rc < 0)
			return rc;
		if (cfg->secret_count > before) {
			p->secret_line = xreallocarray(p->secret_line, cfg->secret_count,
						       sizeof(*p->secret_line));
			p->secret_line[cfg->secret_count - 1] = p->lineno;
		}
		return 0;
	}
	k = config_key_find(p->section, key);
	if (!k)
		return config_unknown_key(p->section, key);
	idx = (size_t)(k - config_keys);
	if (p->key_line[idx]) {
		error_set("[%s] %s is set twice (first on line %u)", k->section, k->key,
			  p->key_line[idx]);
		return DA_EINVALID;
	}
	p->key_line[idx] = p->lineno;
	return config_apply(cfg, p->section, key, value);
}

/* One line, NUL-terminated, without its newline; modified in place. */
static int config_parse_line(struct config_parser *p, char *line)
{
	char *s = config_trim(line), *eq, *key, *value;
	size_t n;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		const char *name;

		n = strlen(s);
		if (s[n - 1] != ']')
			return config_syntax_error();
		s[n - 1] = '\0';
		name = config_trim(s + 1);
		if (!config_is_name(name, ""))
			return config_syntax_error();
		p->section = config_section_find(name);
		if (!p->section) {
			error_set("unknown section [%s]", name);
			return DA_EINVALID;
		}
		return 0;
	}
	eq = strchr(s, '=');
	if (!eq)
		return config_syntax_error();
	*eq = '\0';
	key = config_trim(s);
	value = config_trim(eq + 1);
	if (!config_is_name(key, ".-"))
		return config_syntax_error();
	if (!p->section) {
		error_set("'%s' comes before any [section]", key);
		return DA_EINVALID;
	}
	if (value[0] == '"') {
		n = strlen(value);
		if (n < 2 || value[n - 1] != '"') {
			error_set("[%s] %s: the closing '\"' is missing", p->section, key);
			return DA_EINVALID;
		}
		value[n - 1] = '\0';
		value++;
	}
	return config_parse_assignment(p, key, value);
}

static int config_parse(struct config *cfg, const char *file, const char *data, size_t len)
{
	struct config_parser p;
	char line[CONFIG_LINE_MAX + 1];
	size_t pos = 0;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	/* Some editors start UTF-8 files with a byte order mark. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *start = data + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;

		pos += n + (nl ? 1 : 0);
		p.lineno++;
		if (n && start[n - 1] == '\r')
			n--;
		if (n > CONFIG_LINE_MAX) {
			error_set("line is longer than %d bytes", CONFIG_LINE_MAX);
			rc = DA_EINVALID;
		} else if (memchr(start, '\0', n)) {
			error_set("line contains a NUL byte");
			rc = DA_EINVALID;
		} else {
			memcpy(line, start, n);
			line[n] = '\0';
			rc = config_parse_line(&p, line);
		}
		if (rc < 0) {
			error_prefix("%s:%u: ", file, p.lineno);
			goto out;
		}
	}
out:
	free(p.secret_line);
	return rc;
}

static int config_load_file(struct config *cfg, const char *path, bool must_exist)
{
	struct buf b = BUF_INIT_MAX(CONFIG_FILE_MAX);
	int rc;

	rc = fs_read_file(&b, path, CONFIG_FILE_MAX);
	/* The default file is optional; one the user named is not. */
	if (rc == DA_ENOTFOUND && !must_exist) {
		error_clear();
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	cfg->path = xstrdup(path);
	rc = config_parse(cfg, path, buf_cstr(&b), b.len);
out:
	buf_dispose(&b);
	return rc;
}

/* Which section a variable's name starts with ("AGENT_" in DATAOPS_AGENT_X). */
static const char *config_env_section(const char *rest, const char **key_out)
{
	for (size_t i = 0; i < CONFIG_NSECTIONS; i++) {
		const char *s = config_sections[i];
		size_t j;

		for (j = 0; s[j]; j++)
			if (rest[j] != (char)(s[j] - 'a' + 'A'))
				break;
		if (!s[j] && rest[j] == '_' && rest[j + 1]) {
			*key_out = rest + j + 1;
			return s;
		}
	}
	return NULL;
}

/* One DATAOPS_* variable; name is without "=value". */
static int config_env_one(struct config *cfg, const char *name, const char *value)
{
	const char *section, *upper;
	char *key = NULL;
	size_t klen, slen = strlen(CONFIG_FILE_SUFFIX);
	int rc = 0;

	section = config_env_section(name + strlen(CONFIG_ENV_PREFIX), &upper);
	if (!section)
		goto out; /* DATAOPS_SOMETHING that is not about a section */
	key = xstrdup(upper);
	for (char *c = key; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	klen = strlen(key);
	for (size_t i = 0; i < sizeof(config_secret_values) / sizeof(config_secret_values[0]); i++)
		if (strcmp(section, config_secret_values[i].section) == 0 &&
		    strcmp(key, config_secret_values[i].key) == 0)
			goto out;
	if (strcmp(section, "secrets") == 0) {
		if (klen <= slen || strcmp(key + klen - slen, CONFIG_FILE_SUFFIX) != 0)
			goto out; /* DATAOPS_SECRETS_<NAME>: a value */
	} else if (!config_key_find(section, key)) {
		rc = config_unknown_key(section, key);
		goto out;
	}
	if (!*value)
		goto out; /* set but empty: unset, as systemd units often do */
	rc = config_apply(cfg, section, key, value);
out:
	free(key);
	return rc;
}

static int config_load_env(struct config *cfg, char *const *envp)
{
	char *name = NULL;
	int rc = 0;

	for (size_t i = 0; envp[i]; i++) {
		const char *eq;

		if (strncmp(envp[i], CONFIG_ENV_PREFIX, strlen(CONFIG_ENV_PREFIX)) != 0)
			continue;
		eq = strchr(envp[i], '=');
		if (!eq)
			continue;
		name = xstrndup(envp[i], (size_t)(eq - envp[i]));
		rc = config_env_one(cfg, name, eq + 1);
		if (rc < 0) {
			error_prefix("%s: ", name);
			goto out;
		}
		free(name);
		name = NULL;
	}
out:
	free(name);
	return rc;
}

int config_load(struct config *out, const char *path, bool must_exist, char *const *envp)
{
	int rc;

	memset(out, 0, sizeof(*out));
	config_defaults(out);
	if (!path)
		path = CONFIG_DEFAULT_PATH;
	rc = config_load_file(out, path, must_exist);
	if (rc < 0)
		goto out;
	if (envp) {
		rc = config_load_env(out, envp);
		if (rc < 0)
			goto out;
	}
	rc = config_finish(out);
out:
	if (rc < 0)
		config_dispose(out);
	return rc;
}

int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, const char *origin)
{
	int rc = config_apply(cfg, section, key, value);

	if (rc < 0)
		error_prefix("%s: ", origin ? origin : "flag");
	return rc;
}

/* The value of name in envp, or NULL. Borrowed. */
static const char *config_env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

int config_read_secret(char **out, const char *what, const char *path,
		       const char *env_name, char *const *envp)
{
	const char *env = NULL, *how;
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, rc = DA_ERROR;

	*out = NULL;
	if (!what)
		what = "secret";
	if (env_name && envp)
		env = config_env_get(envp, env_name);
	if (env && *env) {
		*out = xstrdup(env);
		rc = 0;
		goto out;
	}
	if (!path || !*path) {
		if (env_name)
			error_set("%s is not set and %s is not in the environment", what, env_name);
		else
			error_set("%s is not set", what);
		rc = DA_ENOTFOUND;
		goto out;
	}
	/* O_NONBLOCK: a FIFO put in the file's place must not hang us before fstat. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = errno == ENOENT ? DA_ENOTFOUND : DA_ERROR;
		error_set_errno("%s %s: cannot open", what, path);
		goto out;
	}
	/* fstat, not O_NOFOLLOW: secret files are often symlinks (Kubernetes, Vault). */
	if (fstat(fd, &st) < 0) {
		error_set_errno("%s %s: cannot stat", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set("%s %s is not a regular file", what, path);
		rc = DA_EINVALID;
		goto out;
	}
	if (st.st_mode & 077) {
		how = (st.st_mode & 044) ? "readable" : (st.st_mode & 022) ? "writable" : "accessible";
		error_set("%s %s is %s by group or others (mode %04o); chmod 600 it",
			  what, path, how, (unsigned)(st.st_mode & 07777));
		rc = DA_EINVALID;
		goto out;
	}
	if (st.st_size > CONFIG_SECRET_MAX) {
		error_set("%s %s is larger than %d KiB", what, path, CONFIG_SECRET_MAX / 1024);
		rc = DA_ETOOBIG;
		goto out;
	}
	/* One fixed buffer: growing it would leave copies of the secret behind. */
	data = xmalloc(CONFIG_SECRET_MAX + 1);
	while (len <= CONFIG_SECRET_MAX) {
		ssize_t n = read(fd, data + len, CONFIG_SECRET_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set_errno("%s %s: cannot read", what, path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_SECRET_MAX) {
		error_set("%s %s is larger than %d KiB", what, path, CONFIG_SECRET_MAX / 1024);
		rc = DA_ETOOBIG;
		goto out;
	}
	/* Editors and "echo x > file" add a newline that is not part of it. */
	if (len && data[len - 1] == '\n') {
		len--;
		if (len && data[len - 1] == '\r')
			len--;
	}
	if (memchr(data, '\0', len)) {
		error_set("%s %s contains a NUL byte", what, path);
		rc = DA_EINVALID;
		goto out;
	}
	if (len == 0) {
		error_set("%s %s is empty", what, path);
		rc = DA_EINVALID;
		goto out;
	}
	*out = xstrndup(data, len);
	rc = 0;
out:
	/*
	 * Every secret read is masked from then on, wherever it was read
	 * (a step's secret file changes while the agent runs, too).
	 */
	if (rc == 0 && redact_global())
		redact_add_str(redact_global(), *out);
	if (data) {
		explicit_bzero(data, CONFIG_SECRET_MAX + 1);
		free(data);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

const char *config_secret_path(const struct config *cfg, const char *name)
{
	long i = config_secret_find(cfg, name, strlen(name));

	return i >= 0 ? cfg->secrets[i].path : NULL;
}

void config_dispose(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->jenkins.url);
	free(cfg->jenkins.user);
	free(cfg->jenkins.token_file);
	free(cfg->jenkins.node);
	free(cfg->jenkins.ca_file);
	free(cfg->jenkins.labels);
	free(cfg->agent.catalog);
	free(cfg->agent.state_dir);
	free(cfg->agent.cgroup);
	config_free_list(cfg->agent.envs);
	free(cfg->agent.log_level);
	free(cfg->git.cache_dir);
	free(cfg->dddp.url);
	free(cfg->dddp.user);
	free(cfg->dddp.password_file);
	free(cfg->dddp.ca_file);
	for (size_t i = 0; i < cfg->secret_count; i++) {
		free(cfg->secrets[i].name);
		free(cfg->secrets[i].path);
	}
	free(cfg->secrets);
	memset(cfg, 0, sizeof(*cfg));
}

bool config_serves_env(const struct config *cfg, const char *env)
{
	if (env == NULL)
		return true;
	for (size_t i = 0; i < cfg->agent.env_count; i++)
		if (strcmp(cfg->agent.envs[i], env) == 0)
			return true;
	return false;
}
