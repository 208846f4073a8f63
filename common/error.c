/* error.c - thread-local last error message and code names. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "redact.h"

#define ERROR_MAX 2048

static _Thread_local char error_msg[ERROR_MAX];

/* Keep len bytes of msg, cut to the buffer. */
static void error_store_plain(const char *msg, size_t len)
{
	if (len > sizeof(error_msg) - 1)
		len = sizeof(error_msg) - 1;
	memmove(error_msg, msg, len);
	error_msg[len] = '\0';
}

/*
 * One switch and no default label: with -Wswitch-enum a new code without
 * text breaks the build (curl's strerror.c, without its default: trap).
 */
const char *da_strerror(int code)
{
	switch ((enum da_err)code) {
	case DA_OK: return "success";
	case DA_ERROR: return "error";
	case DA_ENOTFOUND: return "not found";
	case DA_ECONFLICT: return "conflict";
	case DA_EAUTH: return "authentication failed";
	case DA_ETOOBIG: return "too big";
	case DA_ETIMEOUT: return "timed out";
	case DA_ECANCELLED: return "cancelled";
	case DA_ERETRY: return "temporary failure";
	case DA_EINVALID: return "invalid input";
	}
	return "unknown error code";
}

/*
 * Keep msg (len bytes) as the message: redacted first, then cut to
 * ERROR_MAX, so a secret cut in half by the limit cannot survive as a
 * prefix the redactor no longer recognises.
 */
static void error_store(const char *msg, size_t len)
{
	struct buf red;

	if (redact_global_active()) {
		buf_init(&red, SIZE_MAX / 2);
		redact_mem(redact_global(), msg, len, &red);
		error_store_plain(buf_cstr(&red), red.len);
		buf_dispose(&red);
		return;
	}
	error_store_plain(msg, len);
}

/*
 * Format into a new string; msg_out gets it and the return is its length.
 * Only a format error gives a shorter text (the format itself).
 */
static size_t error_format(char **msg_out, const char *fmt, va_list ap)
{
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	if (buf_vprintf(&b, fmt, ap) < 0)
		buf_puts(&b, fmt);
	*msg_out = b.ptr;
	return b.len;
}

void error_set(const char *fmt, ...)
{
	char *msg;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	len = error_format(&msg, fmt, ap);
	va_end(ap);
	error_store(msg ? msg : "", len);
	free(msg);
}

void error_set_errno(const char *fmt, ...)
{
	int saved = errno;
	struct buf b;
	char *msg;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	len = error_format(&msg, fmt, ap);
	va_end(ap);
	buf_init(&b, SIZE_MAX / 2);
	buf_put(&b, msg ? msg : "", len);
	buf_printf(&b, ": %s", strerror(saved));
	error_store(b.ptr, b.len);
	buf_dispose(&b);
	free(msg);
	errno = saved;
}

void error_prefix(const char *fmt, ...)
{
	char *prefix, *red = NULL;
	struct buf b;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	len = error_format(&prefix, fmt, ap);
	va_end(ap);
	/* Redact before cutting, as error_store does, so no half secret stays. */
	if (redact_global_active()) {
		red = redact_strdup(redact_global(), prefix ? prefix : "");
		len = strlen(red);
	}
	/* Truncation is fine here: the front of the message matters most. */
	if (len > ERROR_MAX / 2)
		len = ERROR_MAX / 2;
	buf_init(&b, SIZE_MAX / 2);
	buf_put(&b, red ? red : prefix ? prefix : "", len);
	buf_puts(&b, error_msg);
	error_store(b.ptr, b.len);
	buf_dispose(&b);
	free(prefix);
	free(red);
}

const char *error_last(void)
{
	return error_msg;
}

void error_clear(void)
{
	error_msg[0] = '\0';
}
