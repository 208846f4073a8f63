/* Unit tests for common/config.c. Each test works in its own private directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "tmpdir.h"
#include "xmalloc.h"

/* Each test's state is its private directory. */
static int setup(void **state)
{
	*state = tmpdir_new("config");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	tmpdir_free(*state);
	return 0;
}

/* Write len bytes as name under dir with mode; returns the path (free it). */
static char *write_bytes(const char *dir, const char *name, const char *data, size_t len,
			 mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	/* fchmod, since the umask would mask the bits we test. */
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

/* Write text as name under dir with mode; returns the path (free it). */
static char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	return write_bytes(dir, name, text, strlen(text), mode);
}

/* The last error must be "<path>:<rest>". */
static void assert_error_at(const char *path, const char *rest)
{
	char *want = xasprintf("%s:%s", path, rest);

	assert_string_equal(error_last(), want);
	free(want);
}

/* Load text as agent.conf; expect failure with "agent.conf:<rest>". */
static void assert_file_error(const char *dir, const char *text, int code, const char *rest)
{
	struct config cfg;
	char *path = write_file(dir, "agent.conf", text, 0644);

	error_clear();
	assert_int_equal(config_load(&cfg, path, true, NULL), code);
	assert_error_at(path, rest);
	/* On error the struct is disposed: all zero, safe to dispose again. */
	assert_null(cfg.agent.state_dir);
	config_dispose(&cfg);
	free(path);
}

static void test_config__loads_full_file(void **state)
{
	const char *dir = *state;
	struct config cfg;
	char *path;

	path = write_file(dir, "agent.conf",
			  "# dataops-agent configuration\n"
			  "; both comment styles\n"
			  "\n"
			  "[jenkins]\n"
			  "url = https://jenkins.example.com/ci/\n"
			  "user=dataops-bot\n"
			  "  token_file   =   /etc/dataops-agent/token  \n"
			  "node = build-7\n"
			  "labels = \"dataops-agent linux\"\r\n"
			  "\n"
			  "[ agent ]\n"
			  "catalog = /opt/jobs\n"
			  "state_dir = \"/srv/with space\"\n"
			  "executors = 8\n"
			  "poll_interval = 500ms\n"
			  "envs = dev, staging prod,qa\n"
			  "log_level = debug\n"
			  "[git]\n"
			  "cache_dir = /srv/git-cache\n"
			  "[dddp]\n"
			  "url = http://dddp.internal:8080\n"
			  "user = etl\n"
			  "password_file = /etc/dataops-agent/dddp\n"
			  "[secrets]\n"
			  "vault_password_file = /etc/dataops-agent/vault\n"
			  "aws_key_file = \"/etc/dataops-agent/aws\"\n",
			  0644);
	assert_int_equal(config_load(&cfg, path, true, NULL), 0);
	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.jenkins.url, "https://jenkins.example.com/ci");
	assert_string_equal(cfg.jenkins.user, "dataops-bot");
	assert_string_equal(cfg.jenkins.token_file, "/etc/dataops-agent/token");
	assert_string_equal(cfg.jenkins.node, "build-7");
	assert_string_equal(cfg.jenkins.labels, "dataops-agent linux");
	assert_string_equal(cfg.agent.catalog, "/opt/jobs");
	assert_string_equal(cfg.agent.state_dir, "/srv/with space");
	assert_int_equal(cfg.agent.executors, 8);
	assert_int_equal(cfg.agent.poll_interval_ms, 500);
	assert_int_equal(cfg.agent.env_count, 4);
	assert_string_equal(cfg.agent.envs[0], "dev");
	assert_string_equal(cfg.agent.envs[1], "staging");
	assert_string_equal(cfg.agent.envs[2], "prod");
	assert_string_equal(cfg.agent.envs[3], "qa");
	assert_null(cfg.agent.envs[4]);
	assert_string_equal(cfg.agent.log_level, "debug");
	assert_string_equal(cfg.git.cache_dir, "/srv/git-cache");
	assert_false(cfg.git.cache_dir_derived);
	assert_string_equal(cfg.dddp.url, "http://dddp.internal:8080");
	assert_string_equal(cfg.dddp.user, "etl");
	assert_string_equal(cfg.dddp.password_file, "/etc/dataops-agent/dddp");
	assert_int_equal(cfg.secret_count, 2);
	assert_string_equal(config_secret_path(&cfg, "vault_password"), "/etc/dataops-agent/vault");
	assert_string_equal(config_secret_path(&cfg, "aws_key"), "/etc/dataops-agent/aws");
	assert_null(config_secret_path(&cfg, "vault"));
	config_dispose(&cfg);
	config_dispose(&cfg); /* zeroed by the first: harmless */
	free(path);
}

static void test_config__defaults_without_file(void **state)
{
	const char *dir = *state;
	char host[HOST_NAME_MAX + 1] = "";
	struct config cfg;
	char *path = xasprintf("%s/absent.conf", dir);

	assert_int_equal(config_load(&cfg, path, false, NULL), 0);
	assert_null(cfg.path);
	assert_null(cfg.jenkins.url);
	assert_null(cfg.jenkins.user);
	assert_null(cfg.jenkins.token_file);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_string_equal(cfg.jenkins.node, host);
	assert_string_equal(cfg.jenkins.labels, "dataops-agent");
	assert_string_equal(cfg.agent.catalog, "/usr/share/dataops-agent/jobs");
	assert_string_equal(cfg.agent.state_dir, "/var/lib/dataops-agent");
	assert_int_equal(cfg.agent.executors, 2);
	assert_int_equal(cfg.agent.poll_interval_ms, 2000);
	assert_int_equal(cfg.agent.env_count, 1);
	assert_string_equal(cfg.agent.envs[0], "dev");
	assert_null(cfg.agent.envs[1]);
	assert_string_equal(cfg.agent.log_level, "info");
	assert_string_equal(cfg.git.cache_dir, "/var/lib/dataops-agent/git");
	assert_true(cfg.git.cache_dir_derived);
	assert_int_equal(cfg.secret_count, 0);
	config_dispose(&cfg);
	free(path);
}

static void test_config__missing_named_file_is_error(void **state)
{
	const char *dir = *state;
	struct config cfg;
	char *path = xasprintf("%s/absent.conf", dir);
	char *want = xasprintf("%s: cannot open: No such file or directory", path);

	assert_int_equal(config_load(&cfg, path, true, NULL), DA_ENOTFOUND);
	assert_string_equal(error_last(), want);
	config_dispose(&cfg);
	free(want);
	free(path);
}

static void test_config__bad_value_names_file_line_key(void **state)
{
	assert_file_error(*state, "[agent]\nstate_dir = /srv\nexecutors = x\n", DA_EINVALID,
			  "3: [agent] executors: 'x' is not a number between 1 and 64");
	assert_file_error(*state, "[agent]\n\n\n\n\n\n\n\n\n\n\nexecutors = 65\n", DA_EINVALID,
			  "12: [agent] executors: '65' is not a number between 1 and 64");
}

static void test_config__unknown_key_names_line(void **state)
{
	assert_file_error(*state, "[jenkins]\nurl = http://j\ncolour = blue\n", DA_EINVALID,
			  "3: unknown key 'colour' in [jenkins]");
	/* A key of one section is unknown in another. */
	assert_file_error(*state, "[git]\nexecutors = 2\n", DA_EINVALID,
			  "2: unknown key 'executors' in [git]");
	/* A secret's value put in the file gets pointed to its place. */
	assert_file_error(*state, "[dddp]\npassword = pw\n", DA_EINVALID,
			  "2: unknown key 'password' in [dddp]; put the secret in a file "
			  "named by password_file, or in DATAOPS_DDDP_PASSWORD");
}

static void test_config__unknown_section_names_line(void **state)
{
	assert_file_error(*state, "[agent]\nexecutors = 2\n[colour]\n", DA_EINVALID,
			  "3: unknown section [colour]");
}

static void test_config__syntax_error_names_line(void **state)
{
	const char *rest = "5: line is not 'key = value' or '[section]'";

	assert_file_error(*state, "[agent]\n#\n;\n\njust some words\n", DA_EINVALID, rest);
	assert_file_error(*state, "[agent]\n\n\n\n[agent\n", DA_EINVALID, rest);
	assert_file_error(*state, "[agent]\n\n\n\n= 4\n", DA_EINVALID, rest);
	assert_file_error(*state, "[agent]\n\n\n\nmy key = 4\n", DA_EINVALID, rest);
	assert_file_error(*state, "[agent]\n\n\n\n[]\n", DA_EINVALID, rest);
}

static void test_config__key_before_section_is_error(void **state)
{
	assert_file_error(*state, "# top\nexecutors = 2\n", DA_EINVALID,
			  "2: 'executors' comes before any [section]");
}

static void test_config__duplicate_key_is_error(void **state)
{
	assert_file_error(*state, "[agent]\nexecutors = 2\n[jenkins]\n[agent]\nexecutors = 3\n",
			  DA_EINVALID, "5: [agent] executors is set twice (first on line 2)");
	assert_file_error(*state, "[secrets]\na_file = /x\nb_file = /y\na_file = /z\n",
			  DA_EINVALID, "4: [secrets] a_file is set twice (first on line 2)");
}

static void test_config__unterminated_quote_is_error(void **state)
{
	assert_file_error(*state, "[agent]\nstate_dir = \"/srv\n", DA_EINVALID,
			  "2: [agent] state_dir: the closing '\"' is missing");
	assert_file_error(*state, "[agent]\nstate_dir = \"\n", DA_EINVALID,
			  "2: [agent] state_dir: the closing '\"' is missing");
}

static void test_config__line_and_file_caps(void **state)
{
	const char *dir = *state;
	struct config cfg;
	char *text, *path, *want;
	size_t n;

	/* 4096 bytes is the longest line allowed; 4097 is refused. */
	text = xmalloc(5000);
	n = (size_t)snprintf(text, 5000, "[jenkins]\nlabels = ");
	memset(text + n, 'a', 4096 - strlen("labels = "));
	strcpy(text + n + 4096 - strlen("labels = "), "\n");
	path = write_file(dir, "agent.conf", text, 0644);
	assert_int_equal(config_load(&cfg, path, true, NULL), 0);
	config_dispose(&cfg);
	free(path);
	memset(text + n, 'a', 4097 - strlen("labels = "));
	strcpy(text + n + 4097 - strlen("labels = "), "\n");
	assert_file_error(dir, text, DA_EINVALID, "2: line is longer than 4096 bytes");
	free(text);

	/* A file of comments just past 1 MiB. */
	text = xmalloc(1024 * 1024 + 2);
	memset(text, '#', 1024 * 1024 + 1);
	for (size_t i = 100; i < 1024 * 1024; i += 100)
		text[i] = '\n';
	text[1024 * 1024 + 1] = '\0';
	path = write_file(dir, "big.conf", text, 0644);
	want = xasprintf("%s: file is larger than 1 MiB", path);
	assert_int_equal(config_load(&cfg, path, true, NULL), DA_ETOOBIG);
	assert_string_equal(error_last(), want);
	free(want);
	free(path);
	/* Exactly 1 MiB is fine. */
	text[1024 * 1024] = '\0';
	path = write_file(dir, "big.conf", text, 0644);
	assert_int_equal(config_load(&cfg, path, true, NULL), 0);
	config_dispose(&cfg);
	free(path);
	free(text);
}

static void test_config__nul_byte_is_error(void **state)
{
	const char *dir = *state;
	struct config cfg;
	char *path = write_bytes(dir, "agent.conf", "[agent]\nlabels = a\0b\n", 21, 0644);

	assert_int_equal(config_load(&cfg, path, true, NULL), DA_EINVALID);
	assert_error_at(path, "2: line contains a NUL byte");
	free(path);
}

/* Apply value through config_set; expect rc and, on error, the message. */
static void check_set(struct config *cfg, const char *section, const char *key,
		      const char *value, int code, const char *message)
{
	error_clear();
	assert_int_equal(config_set(cfg, section, key, value, "--flag"), code);
	if (message)
		assert_string_equal(error_last(), message);
}

static void test_config__validates_values(void **state)
{
	const char *dir = *state;
	struct config cfg;
	char *path = xasprintf("%s/absent.conf", dir);

	assert_int_equal(config_load(&cfg, path, false, NULL), 0);

	check_set(&cfg, "jenkins", "url", "jenkins.example.com", DA_EINVALID,
		  "--flag: [jenkins] url: 'jenkins.example.com' does not start with http:// or https://");
	check_set(&cfg, "jenkins", "url", "https:///", DA_EINVALID,
		  "--flag: [jenkins] url: 'https:///' has no host");
	check_set(&cfg, "jenkins", "url", "http://a b", DA_EINVALID,
		  "--flag: [jenkins] url: 'http://a b' contains white space");
	check_set(&cfg, "jenkins", "url", "http://j:8080///", 0, NULL);
	assert_string_equal(cfg.jenkins.url, "http://j:8080");

	check_set(&cfg, "agent", "executors", "0", DA_EINVALID,
		  "--flag: [agent] executors: '0' is not a number between 1 and 64");
	check_set(&cfg, "agent", "executors", "-1", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "executors", "99999999999999999999999", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "executors", "64", 0, NULL);
	assert_int_equal(cfg.agent.executors, 64);

	/* The agent's limits: defaults, durations and sizes in MiB. */
	assert_int_equal(cfg.agent.stop_grace_ms, 600000);
	assert_int_equal(cfg.agent.min_free_mb, 64);
	assert_int_equal(cfg.agent.keep_runs_mb, 2048);
	assert_int_equal(cfg.agent.claim_reconcile_ms, 120000);
	check_set(&cfg, "agent", "stop_grace", "30s", 0, NULL);
	assert_int_equal(cfg.agent.stop_grace_ms, 30000);
	check_set(&cfg, "agent", "claim_reconcile", "2h", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "min_free_mb", "0", 0, NULL);
	assert_int_equal(cfg.agent.min_free_mb, 0);
	check_set(&cfg, "agent", "keep_runs_mb", "1048577", DA_EINVALID,
		  "--flag: [agent] keep_runs_mb: '1048577' is not a number of MiB between 0 and 1048576");
	check_set(&cfg, "agent", "min_free_mb", "64M", DA_EINVALID, NULL);
	check_set(&cfg, "dddp", "ca_file", "/etc/ca.pem", 0, NULL);
	assert_string_equal(cfg.dddp.ca_file, "/etc/ca.pem");
	check_set(&cfg, "agent", "executors", "1", 0, NULL);
	assert_int_equal(cfg.agent.executors, 1);

	check_set(&cfg, "agent", "poll_interval", "2", 0, NULL);
	assert_int_equal(cfg.agent.poll_interval_ms, 2000);
	check_set(&cfg, "agent", "poll_interval", "3s", 0, NULL);
	assert_int_equal(cfg.agent.poll_interval_ms, 3000);
	check_set(&cfg, "agent", "poll_interval", "100ms", 0, NULL);
	assert_int_equal(cfg.agent.poll_interval_ms, 100);
	check_set(&cfg, "agent", "poll_interval", "1h", 0, NULL);
	assert_int_equal(cfg.agent.poll_interval_ms, 3600000);
	check_set(&cfg, "agent", "poll_interval", "99ms", DA_EINVALID,
		  "--flag: [agent] poll_interval: '99ms' is not a duration between 100ms and 1h (like 2s or 500ms)");
	check_set(&cfg, "agent", "poll_interval", "3601s", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "poll_interval", "2x", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "poll_interval", "ms", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "poll_interval", "99999999999999999h", DA_EINVALID, NULL);
	assert_int_equal(cfg.agent.poll_interval_ms, 3600000);

	check_set(&cfg, "agent", "envs", "dev, ..", DA_EINVALID,
		  "--flag: [agent] envs: '..' is not a valid environment name (letters, digits, '.', '_', '-')");
	check_set(&cfg, "agent", "envs", "a/b", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "envs", ".", DA_EINVALID, NULL);
	check_set(&cfg, "agent", "envs", " , ", DA_EINVALID,
		  "--flag: [agent] envs: no environment given");
	check_set(&cfg, "agent", "envs", "dev dev", DA_EINVALID,
		  "--flag: [agent] envs: 'dev' is listed twice");
	/* A refused list leaves the old one in place. */
	assert_int_equal(cfg.agent.env_count, 1);
	assert_string_equal(cfg.agent.envs[0], "dev");
	check_set(&cfg, "agent", "envs", "prod-eu.1,staging_2", 0, NULL);
	assert_int_equal(cfg.agent.env_count, 2);
	assert_string_equal(cfg.agent.envs[1], "staging_2");

	check_set(&cfg, "agent", "log_level", "trace", DA_EINVALID,
		  "--flag: [agent] log_level: 'trace' is not one of error, warn, info, debug");
	check_set(&cfg, "agent", "log_level", "warn", 0, NULL);
	assert_string_equal(cfg.agent.log_level, "warn");

	check_set(&cfg, "agent", "state_dir", "", DA_EINVALID,
		  "--flag: [agent] state_dir: the value is empty");
	check_set(&cfg, "agent", "catalog", "", DA_EINVALID, NULL);
	check_set(&cfg, "git", "cache_dir", "", DA_EINVALID, NULL);
	check_set(&cfg, "jenkins", "token_file", "", DA_EINVALID,
		  "--flag: [jenkins] token_file: not an absolute path (it names the file that holds the secret)");
	check_set(&cfg, "dddp", "password_file", "etc/pw", DA_EINVALID, NULL);
	check_set(&cfg, "jenkins", "user", "", 0, NULL);
	assert_null(cfg.jenkins.user);

	check_set(&cfg, "secrets", "vault_password", "/etc/v", DA_EINVALID,
		  "--flag: [secrets] vault_password: keys here name files: <name>_file = /path");
	check_set(&cfg, "secrets", "_file", "/etc/v", DA_EINVALID, NULL);
	check_set(&cfg, "secrets", "Vault_file", "/etc/v", DA_EINVALID, NULL);
	check_set(&cfg, "secrets", "vault_file", "etc/v", DA_EINVALID,
		  "--flag: [secrets] vault_file: not an absolute path (it names the file that holds the secret)");
	check_set(&cfg, "secrets", "vault_file", "", DA_EINVALID, NULL);
	check_set(&cfg, "secrets", "vault_file", "/etc/v", 0, NULL);
	check_set(&cfg, "secrets", "vault_file", "/etc/v2", 0, NULL);
	assert_int_equal(cfg.secret_count, 1);
	assert_string_equal(config_secret_path(&cfg, "vault"), "/etc/v2");

	check_set(&cfg, "agent", "colour", "blue", DA_EINVALID,
		  "--flag: unknown key 'colour' in [agent]");
	check_set(&cfg, "colour", "x", "blue", DA_EINVALID,
		  "--flag: unknown section [colour]");
	config_dispose(&cfg);
	free(path);
}

static void test_config__env_overrides_file(void **state)
{
	const char *dir = *state;
	char *envp[] = {
		"PATH=/usr/bin",
		"DATAOPS_AGENT_EXECUTORS=4",
		"DATAOPS_JENKINS_URL=https://other.example.com/",
		"DATAOPS_AGENT_ENVS=staging,prod",
		"DATAOPS_SECRETS_VAULT_PASSWORD_FILE=/run/secrets/vault",
		"DATAOPS_DDDP_USER=", /* empty: as if unset */
		NULL,
	};
	struct config cfg;
	char *path;

	path = write_file(dir, "agent.conf",
			  "[jenkins]\nurl = http://jenkins\n"
			  "[agent]\nexecutors = 8\nlog_level = warn\n"
			  "[dddp]\nuser = etl\n"
			  "[secrets]\nvault_password_file = /etc/vault\n",
			  0644);
	assert_int_equal(config_load(&cfg, path, true, envp), 0);
	assert_int_equal(cfg.agent.executors, 4);
	assert_string_equal(cfg.jenkins.url, "https://other.example.com");
	assert_int_equal(cfg.agent.env_count, 2);
	assert_string_equal(cfg.agent.envs[0], "staging");
	assert_string_equal(cfg.agent.log_level, "warn"); /* the file's, untouched */
	assert_string_equal(cfg.dddp.user, "etl");
	assert_int_equal(cfg.secret_count, 1);
	assert_string_equal(config_secret_path(&cfg, "vault_password"), "/run/secrets/vault");
	config_dispose(&cfg);
	free(path);
}

static void test_config__env_error_names_variable(void **state)
{
	const char *dir = *state;
	char *bad_value[] = { "DATAOPS_AGENT_EXECUTORS=x", NULL };
	char *bad_key[] = { "DATAOPS_AGENT_COLOUR=blue", NULL };
	char *bad_secret[] = { "DATAOPS_SECRETS_VAULT_FILE=relative", NULL };
	struct config cfg;
	char *path = xasprintf("%s/absent.conf", dir);

	assert_int_equal(config_load(&cfg, path, false, bad_value), DA_EINVALID);
	assert_string_equal(error_last(),
			    "DATAOPS_AGENT_EXECUTORS: [agent] executors: 'x' is not a number between 1 and 64");
	assert_int_equal(config_load(&cfg, path, false, bad_key), DA_EINVALID);
	assert_string_equal(error_last(), "DATAOPS_AGENT_COLOUR: unknown key 'colour' in [agent]");
	assert_int_equal(config_load(&cfg, path, false, bad_secret), DA_EINVALID);
	assert_string_equal(error_last(),
			    "DATAOPS_SECRETS_VAULT_FILE: [secrets] vault_file: not an absolute path (it names the file that holds the secret)");
	free(path);
}

static void test_config__env_ignores_secret_values(void **state)
{
	const char *dir = *state;
	char *envp[] = {
		"DATAOPS_JENKINS_TOKEN=s3cr3t-token",
		"DATAOPS_DDDP_PASSWORD=s3cr3t-password",
		"DATAOPS_SECRETS_VAULT_PASSWORD=s3cr3t-vault",
		"DATAOPS_CONFIG=/etc/elsewhere.conf", /* no section: not ours */
		"DATAOPS_GITHUB_TOKEN=x",             /* GITHUB is not GIT_ */
		"DATAOPS_AGENT_=x",
		"DATAOPS=1",
		"HOME=/root",
		NULL,
	};
	struct config cfg;
	char *path = xasprintf("%s/absent.conf", dir);

	assert_int_equal(config_load(&cfg, path, false, envp), 0);
	assert_int_equal(cfg.secret_count, 0);
	assert_null(cfg.jenkins.token_file);
	config_dispose(&cfg);
	free(path);
}

static void test_config__flag_beats_env(void **state)
{
	const char *dir = *state;
	char *envp[] = { "DATAOPS_AGENT_EXECUTORS=4", NULL };
	struct config cfg;
	char *path = write_file(dir, "agent.conf", "[agent]\nexecutors = 8\n", 0644);

	assert_int_equal(config_load(&cfg, path, true, envp), 0);
	assert_int_equal(cfg.agent.executors, 4);
	assert_int_equal(config_set(&cfg, "agent", "executors", "16", "--executors"), 0);
	assert_int_equal(cfg.agent.executors, 16);
	assert_int_equal(config_set(&cfg, "agent", "executors", "x", "--executors"), DA_EINVALID);
	assert_string_equal(error_last(),
			    "--executors: [agent] executors: 'x' is not a number between 1 and 64");
	assert_int_equal(cfg.agent.executors, 16);
	config_dispose(&cfg);
	free(path);
}

static void test_config__cache_dir_follows_state_dir(void **state)
{
	const char *dir = *state;
	char *env_state[] = { "DATAOPS_AGENT_STATE_DIR=/srv/env/", NULL };
	struct config cfg;
	char *path;

	path = write_file(dir, "agent.conf", "[agent]\nstate_dir = /srv/da\n", 0644);
	assert_int_equal(config_load(&cfg, path, true, NULL), 0);
	assert_string_equal(cfg.git.cache_dir, "/srv/da/git");
	/* A derived cache_dir moves with a later --state-dir. */
	assert_int_equal(config_set(&cfg, "agent", "state_dir", "/data", "--state-dir"), 0);
	assert_string_equal(cfg.git.cache_dir, "/data/git");
	assert_int_equal(config_set(&cfg, "agent", "state_dir", "/", "--state-dir"), 0);
	assert_string_equal(cfg.git.cache_dir, "/git");
	config_dispose(&cfg);

	/* The environment's state_dir counts too, and no "//" appears. */
	assert_int_equal(config_load(&cfg, path, true, env_state), 0);
	assert_string_equal(cfg.git.cache_dir, "/srv/env/git");
	/* One set explicitly stays put. */
	assert_int_equal(config_set(&cfg, "git", "cache_dir", "/cache", "--cache-dir"), 0);
	assert_int_equal(config_set(&cfg, "agent", "state_dir", "/data", "--state-dir"), 0);
	assert_string_equal(cfg.git.cache_dir, "/cache");
	config_dispose(&cfg);
	free(path);

	path = write_file(dir, "agent.conf",
			  "[git]\ncache_dir = /fast/git\n[agent]\nstate_dir = /srv/da\n", 0644);
	assert_int_equal(config_load(&cfg, path, true, NULL), 0);
	assert_string_equal(cfg.git.cache_dir, "/fast/git");
	assert_int_equal(config_set(&cfg, "agent", "state_dir", "/data", "--state-dir"), 0);
	assert_string_equal(cfg.git.cache_dir, "/fast/git");
	config_dispose(&cfg);
	free(path);
}

static void test_config__secret_from_file(void **state)
{
	const char *dir = *state;
	char *path, *secret;

	path = write_file(dir, "token", "t0ken-value\n", 0600);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path,
					    "DATAOPS_JENKINS_TOKEN", NULL), 0);
	assert_string_equal(secret, "t0ken-value");
	free(secret);
	free(path);

	/* Only one newline goes, and "\r\n" counts as one. */
	path = write_file(dir, "token", "t0ken-value\r\n", 0400);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path, NULL, NULL), 0);
	assert_string_equal(secret, "t0ken-value");
	free(secret);
	free(path);
	path = write_file(dir, "token", "line1\nline2\n\n", 0600);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path, NULL, NULL), 0);
	assert_string_equal(secret, "line1\nline2\n");
	free(secret);
	free(path);
	path = write_file(dir, "token", "no-newline", 0600);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path, NULL, NULL), 0);
	assert_string_equal(secret, "no-newline");
	free(secret);
	free(path);
}

static void test_config__secret_through_symlink(void **state)
{
	const char *dir = *state;
	char *path, *link, *secret;

	path = write_file(dir, "token", "t0ken-value\n", 0600);
	link = xasprintf("%s/token-link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", link, NULL, NULL), 0);
	assert_string_equal(secret, "t0ken-value");
	free(secret);
	free(link);
	free(path);
}

static void test_config__secret_group_readable_refused(void **state)
{
	const char *dir = *state;
	char *path, *secret, *want;

	path = write_file(dir, "token", "t0ken-value\n", 0644);
	want = xasprintf("[jenkins] token_file %s is readable by group or others "
			 "(mode 0644); chmod 600 it", path);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path,
					    "DATAOPS_JENKINS_TOKEN", NULL), DA_EINVALID);
	assert_null(secret);
	assert_string_equal(error_last(), want);
	assert_null(strstr(error_last(), "t0ken-value"));
	free(want);
	free(path);

	path = write_file(dir, "token", "t0ken-value\n", 0620);
	want = xasprintf("[jenkins] token_file %s is writable by group or others "
			 "(mode 0620); chmod 600 it", path);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path, NULL, NULL),
			 DA_EINVALID);
	assert_string_equal(error_last(), want);
	free(want);
	free(path);
}

static void test_config__secret_env_wins(void **state)
{
	const char *dir = *state;
	char *envp[] = { "DATAOPS_JENKINS_TOKEN=from-env", NULL };
	char *empty[] = { "DATAOPS_JENKINS_TOKEN=", NULL };
	char *path, *secret;

	path = write_file(dir, "token", "from-file\n", 0600);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path,
					    "DATAOPS_JENKINS_TOKEN", envp), 0);
	assert_string_equal(secret, "from-env");
	free(secret);
	/* Without a file at all, the environment alone will do. */
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", NULL,
					    "DATAOPS_JENKINS_TOKEN", envp), 0);
	assert_string_equal(secret, "from-env");
	free(secret);
	/* Set but empty: the file. */
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path,
					    "DATAOPS_JENKINS_TOKEN", empty), 0);
	assert_string_equal(secret, "from-file");
	free(secret);
	free(path);
}

static void test_config__secret_missing_is_error(void **state)
{
	const char *dir = *state;
	char *path = xasprintf("%s/absent-token", dir);
	char *secret, *want;

	want = xasprintf("[jenkins] token_file %s: cannot open: No such file or directory", path);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path,
					    "DATAOPS_JENKINS_TOKEN", NULL), DA_ENOTFOUND);
	assert_null(secret);
	assert_string_equal(error_last(), want);
	free(want);
	free(path);

	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", NULL,
					    "DATAOPS_JENKINS_TOKEN", NULL), DA_ENOTFOUND);
	assert_string_equal(error_last(),
			    "[jenkins] token_file is not set and DATAOPS_JENKINS_TOKEN is not in the environment");
}

static void test_config__secret_bad_files_refused(void **state)
{
	const char *dir = *state;
	char *path, *secret, *big;

	path = write_file(dir, "token", "\n", 0600);
	assert_int_equal(config_read_secret(&secret, "[dddp] password_file", path, NULL, NULL),
			 DA_EINVALID);
	assert_non_null(strstr(error_last(), "is empty"));
	free(path);

	path = write_bytes(dir, "token", "ab\0cd\n", 6, 0600);
	assert_int_equal(config_read_secret(&secret, "[dddp] password_file", path, NULL, NULL),
			 DA_EINVALID);
	assert_non_null(strstr(error_last(), "contains a NUL byte"));
	free(path);

	/* A directory is not a regular file. */
	assert_int_equal(config_read_secret(&secret, "[dddp] password_file", dir, NULL, NULL),
			 DA_EINVALID);
	assert_non_null(strstr(error_last(), "is not a regular file"));

	big = xmalloc(64 * 1024 + 2);
	memset(big, 'k', 64 * 1024 + 1);
	big[64 * 1024 + 1] = '\0';
	path = write_file(dir, "token", big, 0600);
	assert_int_equal(config_read_secret(&secret, "[dddp] password_file", path, NULL, NULL),
			 DA_ETOOBIG);
	assert_non_null(strstr(error_last(), "larger than 64 KiB"));
	free(path);
	/* A file of exactly 64 KiB is fine (its newline dropped). */
	big[64 * 1024 - 1] = '\n';
	big[64 * 1024] = '\0';
	path = write_file(dir, "token", big, 0600);
	assert_int_equal(config_read_secret(&secret, "[dddp] password_file", path, NULL, NULL), 0);
	assert_int_equal(strlen(secret), 64 * 1024 - 1);
	free(secret);
	free(path);
	free(big);
}

/* A secret put where it does not belong is never repeated in a message. */
static void test_config__values_never_leak(void **state)
{
	const char *dir = *state;
	static const char secret_value[] = "hunter2-s3cr3t";
	char *envp[] = { "DATAOPS_JENKINS_PASSWORD=hunter2-s3cr3t", NULL };
	char *env_url[] = { "DATAOPS_JENKINS_URL=ftp://admin:hunter2-s3cr3t@jenkins", NULL };
	const char *files[] = {
		"[jenkins]\ntoken_file = hunter2-s3cr3t\n",
		"[jenkins]\nhunter2-s3cr3t\n",
		"[jenkins]\ntoken: hunter2-s3cr3t\n",
		"[jenkins]\nurl = https://admin:hunter2-s3cr3t@jenkins/\n",
		"[secrets]\nvault_password = hunter2-s3cr3t\n",
		"[secrets]\nvault_password_file = hunter2-s3cr3t\n",
		"[secrets]\nvault_password_file = \"hunter2-s3cr3t\n",
	};
	struct config cfg;
	char *path, *secret;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path = write_file(dir, "agent.conf", files[i], 0644);
		error_clear();
		assert_int_equal(config_load(&cfg, path, true, NULL), DA_EINVALID);
		assert_true(strlen(error_last()) > 0);
		assert_null(strstr(error_last(), secret_value));
		free(path);
	}

	path = xasprintf("%s/absent.conf", dir);
	assert_int_equal(config_load(&cfg, path, false, envp), DA_EINVALID);
	assert_string_equal(error_last(), "DATAOPS_JENKINS_PASSWORD: unknown key 'password' in [jenkins]");
	assert_int_equal(config_load(&cfg, path, false, env_url), DA_EINVALID);
	assert_null(strstr(error_last(), secret_value));
	free(path);

	path = write_file(dir, "token", "hunter2-s3cr3t\n", 0640);
	assert_int_equal(config_read_secret(&secret, "[jenkins] token_file", path, NULL, NULL),
			 DA_EINVALID);
	assert_null(strstr(error_last(), secret_value));
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_config__loads_full_file),
		T(test_config__defaults_without_file),
		T(test_config__missing_named_file_is_error),
		T(test_config__bad_value_names_file_line_key),
		T(test_config__unknown_key_names_line),
		T(test_config__unknown_section_names_line),
		T(test_config__syntax_error_names_line),
		T(test_config__key_before_section_is_error),
		T(test_config__duplicate_key_is_error),
		T(test_config__unterminated_quote_is_error),
		T(test_config__line_and_file_caps),
		T(test_config__nul_byte_is_error),
		T(test_config__validates_values),
		T(test_config__env_overrides_file),
		T(test_config__env_error_names_variable),
		T(test_config__env_ignores_secret_values),
		T(test_config__flag_beats_env),
		T(test_config__cache_dir_follows_state_dir),
		T(test_config__secret_from_file),
		T(test_config__secret_through_symlink),
		T(test_config__secret_group_readable_refused),
		T(test_config__secret_env_wins),
		T(test_config__secret_missing_is_error),
		T(test_config__secret_bad_files_refused),
		T(test_config__values_never_leak),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
