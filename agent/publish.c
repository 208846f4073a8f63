/* publish.c - a run record streamed from the spool into Jenkins (see publish.h). */
#define _GNU_SOURCE /* memrchr */
#include "publish.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "log.h"
#include "record.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Raw log bytes read from the spool at a time, and held for a line's end at most. */
#define PUBLISH_READ_MAX (64 * 1024)
/* Encoded bytes waiting for curl: one read's hex plus the record's head or tail. */
#define PUBLISH_OUT_MAX (4 * PUBLISH_READ_MAX)
/* Longest wait inside curl's read callback, so an abort is seen soon. */
#define PUBLISH_POLL_MS 200

struct publish {
	pthread_t thread;
	struct jenkins *jenkins;
	char *path;                  /* ".../postBuildResult" */
	struct spool *spool;
	char *note;
	unsigned flush_ms, keepalive_ms;

	/* Used by the publisher thread only. */
	struct record_writer *writer;
	struct buf out;              /* encoded bytes not yet handed to curl */
	size_t out_off;
	struct buf hold;             /* raw bytes waiting for the end of their line */
	uint64_t hold_since;
	uint64_t offset;             /* next spool offset to read */
	uint64_t last_send;
	uint64_t log_bytes;
	bool opened, closed;

	/* Shared with the caller, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t tail_came;    /* publish_finish was called */
	bool tail_set;
	enum run_result result;
	unsigned long duration_ms;
	char *display_name, *description;
	char *epilogue;
	int rc;
	char error[512];
};

/* The one place where a run's result becomes a record's (record.h §7.2). */
static enum record_result publish_record_result(enum run_result r)
{
	switch (r) {
	case RUN_SUCCESS:
		return RECORD_SUCCESS;
	case RUN_UNSTABLE:
		return RECORD_UNSTABLE;
	case RUN_NOT_BUILT:
		return RECORD_NOT_BUILT;
	case RUN_ABORTED:
		return RECORD_ABORTED;
	case RUN_FAILURE:
		break;
	}
	return RECORD_FAILURE;
}

/* Encode the first n held bytes as one log write. */
static int publish_emit(struct publish *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = record_log(p->writer, &p->out, p->hold.ptr, n);
	if (rc != 0)
		return rc;
	p->log_bytes += n;
	buf_consume(&p->hold, n);
	p->hold_since = time_mono_ms();
	return 0;
}

/* Emit the held bytes up to their last newline. */
static int publish_emit_lines(struct publish *p)
{
	const char *nl = p->hold.len ? memrchr(p->hold.ptr, '\n', p->hold.len) : NULL;

	return nl ? publish_emit(p, (size_t)(nl - p->hold.ptr) + 1) : 0;
}

/* The finished spool is read: the rest of the log, then the record's end. */
static int publish_close(struct publish *p)
{
	enum run_result result;
	unsigned long duration;
	char *display, *description, *epilogue;
	int rc = publish_emit(p, p->hold.len);

	if (rc != 0)
		return rc;
	pthread_mutex_lock(&p->lock);
	/*
	 * A spool that was finished before the publisher started (a run
	 * recorded again) reaches its end at once: wait for the caller's
	 * publish_finish, which comes right after publish_start.
	 */
	while (!p->tail_set)
		pthread_cond_wait(&p->tail_came, &p->lock);
	result = p->result;
	duration = p->duration_ms;
	display = p->display_name ? xstrdup(p->display_name) : NULL;
	description = p->description ? xstrdup(p->description) : NULL;
	epilogue = p->epilogue ? xstrdup(p->epilogue) : NULL;
	pthread_mutex_unlock(&p->lock);
	if (epilogue)
		rc = record_log(p->writer, &p->out, epilogue, strlen(epilogue));
	if (rc == 0)
		rc = record_close(p->writer, &p->out, publish_record_result(result), duration,
				  display, description);
	free(display);
	free(description);
	free(epilogue);
	p->closed = rc == 0;
	return rc;
}

/*
 * Put something into p->out: log lines, a keep-alive, or the end. Waits
 * for the spool at most until the next keep-alive or partial-line flush
 * is due (and at most PUBLISH_POLL_MS). DA_E* to abort the stream.
 */
static int publish_fill(struct publish *p)
{
	char tmp[PUBLISH_READ_MAX];
	uint64_t now = time_mono_ms();
	uint64_t due = p->last_send + p->keepalive_ms;
	size_t space = p->hold.max - p->hold.len;
	ssize_t n;

	if (p->hold.len && p->hold_since + p->flush_ms < due)
		due = p->hold_since + p->flush_ms;
	if (space == 0)
		return publish_emit(p, p->hold.len);
	n = spool_read_at(p->spool, p->offset, tmp, space < sizeof(tmp) ? space : sizeof(tmp),
			  due <= now ? 0 : (int)(due - now < PUBLISH_POLL_MS ? due - now :
							 PUBLISH_POLL_MS));
	if (n > 0) {
		if (p->hold.len == 0)
			p->hold_since = time_mono_ms();
		if (buf_put(&p->hold, tmp, (size_t)n) != 0)
			return DA_ETOOBIG; /* cannot happen: n <= space */
		p->offset += (uint64_t)n;
		if (p->hold.len == p->hold.max)
			return publish_emit(p, p->hold.len);
		return publish_emit_lines(p);
	}
	if (n == 0)
		return publish_close(p);
	if (n != DA_ETIMEOUT)
		return (int)n;
	now = time_mono_ms();
	if (p->hold.len && now >= p->hold_since + p->flush_ms)
		return publish_emit(p, p->hold.len);
	if (now >= p->last_send + p->keepalive_ms)
		return record_keepalive(p->writer, &p->out);
	return 0;
}

/* curl's read callback: each return of bytes is one HTTP chunk on the wire. */
static ssize_t publish_read(char *buf, size_t len, void *payload)
{
	struct publish *p = payload;
	int rc;

	for (;;) {
		if (p->out_off < p->out.len) {
			size_t n = p->out.len - p->out_off;

			if (n > len)
				n = len;
			memcpy(buf, p->out.ptr + p->out_off, n);
			p->out_off += n;
			if (p->out_off == p->out.len) {
				buf_clear(&p->out);
				p->out_off = 0;
			}
			p->last_send = time_mono_ms();
			return (ssize_t)n;
		}
		if (p->closed)
			return 0;
		if (!p->opened) {
			rc = record_open(p->writer, &p->out);
			if (rc == 0 && p->note)
				rc = record_log(p->writer, &p->out, p->note, strlen(p->note));
			p->opened = true;
		} else {
			rc = publish_fill(p);
		}
		if (rc != 0) {
			pthread_mutex_lock(&p->lock);
			snprintf(p->error, sizeof(p->error), "reading the run's spool %s: %s",
				 spool_path(p->spool), error_last());
			pthread_mutex_unlock(&p->lock);
			return -1;
		}
	}
}

static void *publish_thread(void *arg)
{
	struct publish *p = arg;
	struct http_response r;
	int rc;

	rc = http_stream_post(&r, jenkins_http(p->jenkins), p->path,
			      "application/xml; charset=UTF-8", publish_read, p);
	if (rc == 0) {
		rc = http_check_status(&r, jenkins_user(p->jenkins));
		if (rc == 0 && r.status != 200) {
			error_set("POST %s: expected 200 after </run>, got %ld", r.url, r.status);
			rc = DA_ERROR;
		}
	}
	if (rc == 0 && !p->closed) {
		error_set("POST %s: Jenkins answered before the record was complete", r.url);
		rc = DA_ERROR;
	}
	pthread_mutex_lock(&p->lock);
	p->rc = rc;
	if (rc != 0 && p->error[0] == '\0')
		snprintf(p->error, sizeof(p->error), "%s", error_last());
	pthread_mutex_unlock(&p->lock);
	http_response_dispose(&r);
	return NULL;
}

/* Everything a publisher owns; its thread is not running. */
static void publish_free(struct publish *p)
{
	pthread_cond_destroy(&p->tail_came);
	pthread_mutex_destroy(&p->lock);
	buf_dispose(&p->out);
	buf_dispose(&p->hold);
	record_writer_free(p->writer);
	jenkins_free(p->jenkins);
	free(p->display_name);
	free(p->description);
	free(p->epilogue);
	free(p->note);
	free(p->path);
	free(p);
}

int publish_start(struct publish **out, const struct publish_opts *opts)
{
	struct publish *p = xcalloc(1, sizeof(*p));
	char *item;
	int rc;

	*out = NULL;
	rc = jenkins_clone(&p->jenkins, opts->jenkins);
	if (rc != 0) {
		free(p);
		return rc;
	}
	item = jenkins_item_url_path(opts->runs_job);
	p->path = xasprintf("%s/postBuildResult", item);
	free(item);
	p->spool = opts->spool;
	p->note = opts->note ? xstrdup(opts->note) : NULL;
	p->flush_ms = opts->flush_ms ? opts->flush_ms : 1000;
	p->keepalive_ms = opts->keepalive_ms ? opts->keepalive_ms : 1000;
	record_writer_new(&p->writer);
	buf_init(&p->out, PUBLISH_OUT_MAX);
	buf_init(&p->hold, PUBLISH_READ_MAX);
	p->last_send = time_mono_ms();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->tail_came, NULL);
	rc = pthread_create(&p->thread, NULL, publish_thread, p);
	if (rc != 0) {
		error_set("cannot start the publisher of %s: %s", opts->runs_job, strerror(rc));
		publish_free(p);
		return DA_ERROR;
	}
	*out = p;
	return 0;
}

void publish_finish(struct publish *p, enum run_result result, unsigned long duration_ms,
		    const char *display_name, const char *description)
{
	pthread_mutex_lock(&p->lock);
	p->result = result;
	p->duration_ms = duration_ms;
	free(p->display_name);
	free(p->description);
	p->display_name = display_name ? xstrdup(display_name) : NULL;
	p->description = description ? xstrdup(description) : NULL;
	p->tail_set = true;
	pthread_cond_broadcast(&p->tail_came);
	pthread_mutex_unlock(&p->lock);
}

void publish_set_epilogue(struct publish *p, const char *text)
{
	pthread_mutex_lock(&p->lock);
	free(p->epilogue);
	p->epilogue = text ? xstrdup(text) : NULL;
	pthread_mutex_unlock(&p->lock);
}

int publish_wait(struct publish *p, uint64_t *log_bytes)
{
	int rc;

	pthread_join(p->thread, NULL);
	rc = p->rc;
	if (rc != 0)
		error_set("%s", p->error);
	if (log_bytes)
		*log_bytes = p->log_bytes;
	publish_free(p);
	return rc;
}
