/*
 * fuzz_config.c - the config loader (common/config.c) on any bytes.
 *
 * The input up to the first NUL is the INI file (config_load reads a path,
 * so it is written to a temporary file); after it, NUL-separated
 * "NAME=value" strings are the environment, so DATAOPS_* overrides are
 * fuzzed with the file. A loaded config must keep what config.h promises
 * (executors 1..64, an envs array as long as env_count), and a refusal
 * always says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "fuzz.h"

#define ENV_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_tmpdir();
	char *envp[ENV_MAX + 1], *copy, path[512];
	const uint8_t *nul = memchr(data, '\0', size);
	size_t file_len = nul ? (size_t)(nul - data) : size;
	struct config cfg;
	int nenv = 0;

	fuzz_write_file(dir, "agent.conf", data, file_len);
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	/* The rest as NUL-terminated strings (the copy adds the last NUL). */
	copy = malloc(size - file_len + 1);
	memcpy(copy, data + file_len, size - file_len);
	copy[size - file_len] = '\0';
	for (size_t i = nul ? 1 : 0; i < size - file_len && nenv < ENV_MAX;) {
		envp[nenv++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	envp[nenv] = NULL;

	if (config_load(&cfg, path, true, envp) == 0) {
		if (getenv("DA_FUZZ_VERBOSE"))
			fprintf(stderr, "loaded: executors %u, %zu envs, %zu secrets\n",
				cfg.agent.executors, cfg.agent.env_count, cfg.secret_count);
		FUZZ_CHECK(cfg.agent.executors >= 1 && cfg.agent.executors <= 64);
		FUZZ_CHECK(cfg.agent.env_count == 0 || cfg.agent.envs != NULL);
		for (size_t i = 0; i < cfg.agent.env_count; i++)
			FUZZ_CHECK(cfg.agent.envs[i] != NULL);
		if (cfg.agent.envs)
			FUZZ_CHECK(cfg.agent.envs[cfg.agent.env_count] == NULL);
		for (size_t i = 0; i < cfg.secret_count; i++)
			FUZZ_CHECK(config_secret_path(&cfg, cfg.secrets[i].name) != NULL);
		/* A flag on top, as main does: accepted or refused with a reason. */
		if (config_set(&cfg, "agent", "executors", "3", "--executors") == 0)
			FUZZ_CHECK(cfg.agent.executors == 3);
		if (config_set(&cfg, "agent", "state_dir", "/tmp/x", "--state-dir") < 0)
			FUZZ_CHECK(error_last()[0] != '\0');
		config_dispose(&cfg);
	} else {
		FUZZ_CHECK(error_last()[0] != '\0');
		if (getenv("DA_FUZZ_VERBOSE"))
			fprintf(stderr, "refused: %.300s\n", error_last());
	}
	error_clear();
	free(copy);
	return 0;
}
