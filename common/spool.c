/* spool.c - append-only log file with followers, redacted on the way in. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "redact.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Bytes redacted per pass: bounds the scratch buffer whatever a write's size. */
#define SPOOL_REDACT_CHUNK 65536

struct spool {
	char *path;
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t grown; /* size grew or the spool finished */
	uint64_t size;
	bool finished;
	int write_errno;      /* sticky: first write error */
	struct redact_stream *redact; /* NULL: bytes go to the file as they are */
	struct buf scratch;   /* a redacted chunk on its way to the file */
};

/* A spool over an open file, of size bytes so far. */
static struct spool *spool_new(const char *path, int fd, uint64_t size)
{
	struct spool *s = xcalloc(1, sizeof(*s));
	pthread_condattr_t attr;

	s->path = xstrdup(path);
	s->fd = fd;
	s->size = size;
	buf_init(&s->scratch, SIZE_MAX / 2);
	pthread_mutex_init(&s->lock, NULL);
	/* Monotonic waits (spool_read_at): a clock change must not stall a follower. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->grown, &attr);
	pthread_condattr_destroy(&attr);
	return s;
}

int spool_open(struct spool **out, const char *path)
{
	int fd;

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_set_errno("cannot create spool file %s", path);
		return DA_ERROR;
	}
	*out = spool_new(path, fd, 0);
	return 0;
}

int spool_open_finished(struct spool **out, const char *path)
{
	struct spool *s;
	struct stat st;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error_set_errno("cannot open spool file %s", path);
		return DA_ERROR;
	}
	if (fstat(fd, &st) < 0) {
		error_set_errno("cannot stat spool file %s", path);
		close(fd);
		return DA_ERROR;
	}
	s = spool_new(path, fd, (uint64_t)st.st_size);
	s->finished = true;
	s->write_errno = EBADF;   /* read-only: every write is refused */
	*out = s;
	return 0;
}

int spool_check(struct spool *s)
{
	int err;

	pthread_mutex_lock(&s->lock);
	err = s->write_errno;
	pthread_mutex_unlock(&s->lock);
	if (err == 0)
		return 0;
	error_set("cannot write spool file %s: %s", s->path, strerror(err));
	return DA_ERROR;
}

/* Append to the file (lock held). On failure the errno sticks. */
static int spool_append(struct spool *s, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			s->write_errno = errno;
			return DA_ERROR;
		}
		p += n;
		len -= (size_t)n;
		s->size += (uint64_t)n;
	}
	return 0;
}

/* Release what the redactor holds back into the file (lock held). */
static int spool_release(struct spool *s)
{
	int rc;

	if (!s->redact || s->write_errno)
		return 0;
	buf_clear(&s->scratch);
	rc = redact_stream_finish(s->redact, &s->scratch);
	if (rc == 0)
		rc = spool_append(s, s->scratch.ptr, s->scratch.len);
	return rc;
}

static void spool_report(const struct spool *s)
{
	if (s->write_errno)
		error_set("cannot write spool file %s: %s", s->path, strerror(s->write_errno));
}

int spool_set_redactor(struct spool *s, struct redactor *r)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = spool_release(s);
	redact_stream_free(s->redact);
	s->redact = NULL;
	if (r)
		redact_stream_new(&s->redact, r);
	if (rc < 0)
		spool_report(s);
	pthread_cond_broadcast(&s->grown);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int spool_write(struct spool *s, const void *data, size_t len)
{
	const char *p = data;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->write_errno) {
		rc = DA_ERROR;
		goto out;
	}
	if (!s->redact) {
		rc = spool_append(s, p, len);
		goto out;
	}
	while (len > 0 && rc == 0) {
		size_t take = len < SPOOL_REDACT_CHUNK ? len : SPOOL_REDACT_CHUNK;

		buf_clear(&s->scratch);
		rc = redact_stream_write(s->redact, p, take, &s->scratch);
		if (rc == 0)
			rc = spool_append(s, s->scratch.ptr, s->scratch.len);
		p += take;
		len -= take;
	}
out:
	if (rc < 0)
		spool_report(s);
	pthread_cond_broadcast(&s->grown);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int spool_printf(struct spool *s, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	int rc;

	buf_init(&b, 1 << 20);
	va_start(ap, fmt);
	rc = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = spool_write(s, b.ptr, b.len);
	buf_dispose(&b);
	return rc;
}

int spool_finish(struct spool *s)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = spool_release(s);
	if (s->write_errno) {
		rc = DA_ERROR;
		spool_report(s);
	}
	s->finished = true;
	pthread_cond_broadcast(&s->grown);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

ssize_t spool_read_at(struct spool *s, uint64_t offset, void *buf, size_t len, int timeout_ms)
{
	struct timespec deadline = time_deadline(CLOCK_MONOTONIC,
						 timeout_ms > 0 ? (unsigned)timeout_ms : 0);
	uint64_t avail;
	ssize_t n;

	pthread_mutex_lock(&s->lock);
	while (s->size <= offset && !s->finished) {
		if (pthread_cond_timedwait(&s->grown, &s->lock, &deadline) != 0)
			break;
	}
	avail = s->size > offset ? s->size - offset : 0;
	if (avail == 0) {
		bool finished = s->finished;
		pthread_mutex_unlock(&s->lock);
		return finished ? 0 : DA_ETIMEOUT;
	}
	pthread_mutex_unlock(&s->lock);

	if (len > avail)
		len = (size_t)avail;
	do {
		n = pread(s->fd, buf, len, (off_t)offset);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		error_set_errno("cannot read spool file %s", s->path);
		return DA_ERROR;
	}
	return n;
}

uint64_t spool_size(struct spool *s)
{
	uint64_t size;

	pthread_mutex_lock(&s->lock);
	size = s->size;
	pthread_mutex_unlock(&s->lock);
	return size;
}

const char *spool_path(const struct spool *s)
{
	return s->path;
}

void spool_free(struct spool *s)
{
	if (!s)
		return;
	/* Held-back bytes are part of the log: never drop them. */
	spool_release(s);
	redact_stream_free(s->redact);
	buf_dispose(&s->scratch);
	close(s->fd);
	pthread_cond_destroy(&s->grown);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}
