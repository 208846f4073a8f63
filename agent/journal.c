/* journal.c - the runs the agent has taken on, on disk (see journal.h). */
#define _GNU_SOURCE /* syncfs */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "xmalloc.h"

/* A journal entry is small: a job name, parameters, texts. */
#define JOURNAL_ENTRY_MAX (1 << 20)

struct journal {
	char *dir;
	int lock_fd;
};

static const char *const journal_state_names[] = {
	[JOURNAL_CLAIMING] = "claiming",
	[JOURNAL_CLAIMED] = "claimed",
	[JOURNAL_RUNNING] = "running",
	[JOURNAL_FINISHED] = "finished",
};

const char *journal_state_name(enum journal_state s)
{
	return (unsigned)s <= JOURNAL_FINISHED ? journal_state_names[s] : "unknown";
}

int journal_open(struct journal **out, const char *state_dir)
{
	struct journal *j;
	char *lock = xasprintf("%s/agent.lock", state_dir);
	int fd;

	*out = NULL;
	if (fs_mkdir_p(state_dir, 0700) < 0) {
		free(lock);
		return DA_ERROR;
	}
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_set_errno("cannot open %s", lock);
		free(lock);
		return DA_ERROR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		error_set("%s is in use by another dataops-agent (lock %s): each agent needs its "
			  "own [agent] state_dir", state_dir, lock);
		close(fd);
		free(lock);
		return DA_ECONFLICT;
	}
	free(lock);
	j = xcalloc(1, sizeof(*j));
	j->lock_fd = fd;
	j->dir = xasprintf("%s/journal", state_dir);
	if (fs_mkdir_p(j->dir, 0700) < 0) {
		journal_free(j);
		return DA_ERROR;
	}
	*out = j;
	return 0;
}

void journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->dir);
	free(j);
}

static char *journal_path(const struct journal *j, long long queue_id)
{
	return xasprintf("%s/q%lld.json", j->dir, queue_id);
}

static void journal_set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

int journal_write(struct journal *j, const struct journal_entry *e, bool durable)
{
	json_t *o = json_object();
	json_t *params = json_array();
	char *text, *path, *tmp = NULL;
	size_t len;
	ssize_t w = 0;
	int fd, rc;

	json_object_set_new(o, "queue_id", json_integer(e->queue_id));
	json_object_set_new(o, "state", json_string(journal_state_name(e->state)));
	journal_set_str(o, "job", e->job);
	journal_set_str(o, "user", e->user);
	for (size_t i = 0; e->params && e->params[i]; i++)
		json_array_append_new(params, json_string(e->params[i]));
	json_object_set_new(o, "params", params);
	journal_set_str(o, "spool", e->spool);
	json_object_set_new(o, "since_ms", json_integer(e->since_ms));
	if (e->state == JOURNAL_FINISHED) {
		json_object_set_new(o, "result", json_string(run_result_name(e->result)));
		json_object_set_new(o, "duration_ms", json_integer((json_int_t)e->duration_ms));
		journal_set_str(o, "display_name", e->display_name);
		journal_set_str(o, "description", e->description);
	}
	/* Strings that are not UTF-8 were dropped by json_string (NULL): say so, do not lie. */
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (text == NULL) {
		error_set("journal entry of queue item %lld cannot be encoded", e->queue_id);
		return DA_ERROR;
	}
	len = strlen(text);
	path = journal_path(j, e->queue_id);
	fd = fs_atomic_begin(&tmp, path, 0600);
	if (fd < 0) {
		rc = DA_ERROR;
	} else {
		w = write(fd, text, len);
		if (w != (ssize_t)len)
			error_set_errno("cannot write %s", tmp);
		rc = fs_atomic_commit(fd, tmp, path, w == (ssize_t)len, durable);
		if (rc == 0 && durable)
			rc = fs_sync_dir(j->dir);
	}
	if (rc != 0)
		error_prefix("journal: ");
	free(path);
	free(text);
	return rc;
}

int journal_sync(struct journal *j)
{
	int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		error_set_errno("journal: cannot open %s", j->dir);
		return DA_ERROR;
	}
	/* The files and the directory at once: one flush of the filesystem. */
	if (syncfs(fd) < 0) {
		error_set_errno("journal: cannot sync %s", j->dir);
		rc = DA_ERROR;
	}
	close(fd);
	return rc;
}

int journal_remove(struct journal *j, long long queue_id, bool durable)
{
	char *path = journal_path(j, queue_id);
	int rc = 0;

	if (unlink(path) < 0 && errno != ENOENT) {
		error_set_errno("journal: cannot remove %s", path);
		rc = DA_ERROR;
	}
	if (rc == 0 && durable)
		rc = fs_sync_dir(j->dir);
	free(path);
	return rc;
}

static char *journal_str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? xstrdup(v) : NULL;
}

static int journal_parse(struct journal_entry *e, const char *text, size_t len, const char *path)
{
	json_error_t err;
	json_t *o = json_loadb(text, len, 0, &err);
	const char *state, *result;
	const json_t *params, *p;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (o == NULL || !json_is_object(o)) {
		error_set("%s: not a journal entry (%s)", path, o ? "not an object" : err.text);
		json_decref(o);
		return DA_EINVALID;
	}
	state = json_string_value(json_object_get(o, "state"));
	e->queue_id = json_integer_value(json_object_get(o, "queue_id"));
	e->state = JOURNAL_CLAIMING;
	for (i = 0; state && i <= JOURNAL_FINISHED; i++)
		if (strcmp(state, journal_state_names[i]) == 0)
			break;
	e->job = journal_str(o, "job");
	if (state == NULL || i > JOURNAL_FINISHED || e->queue_id <= 0 || e->job == NULL) {
		error_set("%s: a journal entry needs queue_id, job and a known state", path);
		json_decref(o);
		journal_entry_dispose(e);
		return DA_EINVALID;
	}
	e->state = (enum journal_state)i;
	e->user = journal_str(o, "user");
	e->spool = journal_str(o, "spool");
	e->since_ms = json_integer_value(json_object_get(o, "since_ms"));
	params = json_object_get(o, "params");
	e->params = xcalloc(json_array_size(params) + 1, sizeof(*e->params));
	json_array_foreach(params, i, p)
		e->params[i] = xstrdup(json_string_value(p) ? json_string_value(p) : "");
	result = json_string_value(json_object_get(o, "result"));
	e->result = RUN_FAILURE;
	for (int r = RUN_SUCCESS; result && r <= RUN_ABORTED; r++)
		if (strcmp(result, run_result_name((enum run_result)r)) == 0)
			e->result = (enum run_result)r;
	e->duration_ms = (unsigned long)json_integer_value(json_object_get(o, "duration_ms"));
	e->display_name = journal_str(o, "display_name");
	e->description = journal_str(o, "description");
	json_decref(o);
	return 0;
}

static int journal_cmp(const void *a, const void *b)
{
	const struct journal_entry *x = a, *y = b;

	if (x->since_ms != y->since_ms)
		return x->since_ms < y->since_ms ? -1 : 1;
	return x->queue_id < y->queue_id ? -1 : x->queue_id > y->queue_id;
}

int journal_list(struct journal *j, struct journal_entry **out, size_t *count)
{
	DIR *d = opendir(j->dir);
	struct dirent *de;
	size_t n = 0, cap = 0;
	struct journal_entry *v = NULL;

	*out = NULL;
	*count = 0;
	if (d == NULL) {
		error_set_errno("cannot read %s", j->dir);
		return DA_ERROR;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		struct buf text = BUF_INIT_MAX(JOURNAL_ENTRY_MAX);
		char *path;

		if (de->d_name[0] != 'q' || nl < 6 || strcmp(de->d_name + nl - 5, ".json") != 0)
			continue;
		path = xasprintf("%s/%s", j->dir, de->d_name);
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		if (fs_read_file(&text, path, JOURNAL_ENTRY_MAX) == 0 &&
		    journal_parse(&v[n], text.ptr ? text.ptr : "", text.len, path) == 0) {
			n++;
		} else {
			char *bad = xasprintf("%s.bad", path);

			log_error("journal: %s; moved aside as %s", error_last(), bad);
			rename(path, bad);
			free(bad);
		}
		buf_dispose(&text);
		free(path);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), journal_cmp);
	*out = v;
	*count = n;
	return 0;
}

void journal_entry_dispose(struct journal_entry *e)
{
	free(e->job);
	free(e->user);
	free(e->spool);
	free(e->display_name);
	free(e->description);
	for (size_t i = 0; e->params && e->params[i]; i++)
		free(e->params[i]);
	free(e->params);
	memset(e, 0, sizeof(*e));
}

void journal_entries_free(struct journal_entry *e, size_t count)
{
	for (size_t i = 0; i < count; i++)
		journal_entry_dispose(&e[i]);
	free(e);
}
