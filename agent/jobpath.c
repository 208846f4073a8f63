/* jobpath.c - Jenkins job paths with the "{env}" placeholder. */
#include "jobpath.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define ENV_MARK "{env}"

bool jobpath_has_env(const char *path)
{
	return strstr(path, ENV_MARK) != NULL;
}

char *jobpath_expand(const char *path, const char *env)
{
	const char *mark = strstr(path, ENV_MARK);

	if (!mark)
		return xstrdup(path);
	return xasprintf("%.*s%s%s", (int)(mark - path), path, env,
			 mark + strlen(ENV_MARK));
}

bool jobpath_match(const char *pattern, const char *path, char **env_out)
{
	const char *mark = strstr(pattern, ENV_MARK);
	size_t head, tail, plen;
	const char *env;
	size_t env_len;

	*env_out = NULL;
	if (!mark)
		return strcmp(pattern, path) == 0;
	head = (size_t)(mark - pattern);
	tail = strlen(mark + strlen(ENV_MARK));
	plen = strlen(path);
	if (plen < head + tail + 1)
		return false;
	if (strncmp(pattern, path, head) != 0 ||
	    strcmp(mark + strlen(ENV_MARK), path + plen - tail) != 0)
		return false;
	env = path + head;
	env_len = plen - head - tail;
	if (memchr(env, '/', env_len))
		return false;
	*env_out = xstrndup(env, env_len);
	return true;
}

void jobpath_env_module(const char *path, char **env_out, char **module_out)
{
	const char *seg[3] = { NULL, NULL, NULL }; /* starts of -3, -2, -1 */
	const char *p;

	*env_out = NULL;
	*module_out = NULL;
	seg[2] = path;
	for (p = path; *p; p++) {
		if (*p == '/') {
			seg[0] = seg[1];
			seg[1] = seg[2];
			seg[2] = p + 1;
		}
	}
	if (seg[0])
		*env_out = xstrndup(seg[0], (size_t)(seg[1] - 1 - seg[0]));
	if (seg[1])
		*module_out = xstrndup(seg[1], (size_t)(seg[2] - 1 - seg[1]));
}

bool jobpath_segment_is_valid(const char *s)
{
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

char *jobpath_runs_job(const char *trigger_path)
{
	return xasprintf("%s-runs", trigger_path);
}
