/* log.c - the agent's own log on stderr, one escaped, redacted line per message. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "redact.h"

#define LOG_MSG_MAX 4096 /* bytes of one message kept, after redaction */

static enum log_level log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
	log_level = level;
}

bool log_enabled(enum log_level level)
{
	return level <= log_level;
}

static const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_ERROR: return "error";
	case LOG_WARN: return "warn";
	case LOG_INFO: return "info";
	case LOG_DEBUG: return "debug";
	}
	return "?";
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char line[LOG_MSG_MAX * 4 + 64], stamp[32];
	struct buf msg, red;
	const struct buf *text = &msg;
	struct timespec ts;
	struct tm tm;
	size_t n = 0;
	va_list ap;

	/*
	 * The whole message first, then redaction, then the cut: cutting first
	 * could leave the front of a secret that the redactor no longer knows.
	 */
	buf_init(&msg, SIZE_MAX / 2);
	buf_init(&red, SIZE_MAX / 2);
	va_start(ap, fmt);
	if (buf_vprintf(&msg, fmt, ap) < 0)
		buf_puts(&msg, fmt);
	va_end(ap);
	if (redact_global_active()) {
		redact_mem(redact_global(), msg.ptr ? msg.ptr : "", msg.len, &red);
		text = &red;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof(line), "%s.%03ldZ %s ", stamp,
			     ts.tv_nsec / 1000000, log_level_name(level));
	for (size_t i = 0; i < text->len && i < LOG_MSG_MAX - 1; i++) {
		unsigned char c = (unsigned char)text->ptr[i];

		if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x", c);
		else
			line[n++] = (char)c;
	}
	line[n++] = '\n';
	buf_dispose(&msg);
	buf_dispose(&red);

	pthread_mutex_lock(&log_lock);
	fwrite(line, 1, n, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}
