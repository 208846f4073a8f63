/* error.c - thread-local last error message and code names. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERROR_MAX 2048

static _Thread_local char error_msg[ERROR_MAX];

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

void error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
	va_end(ap);
}

void error_set_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
	va_end(ap);
	n = strlen(error_msg);
	snprintf(error_msg + n, sizeof(error_msg) - n, ": %s", strerror(saved));
	errno = saved;
}

void error_prefix(const char *fmt, ...)
{
	char prefix[ERROR_MAX / 2], old[ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);

	size_t plen = strlen(prefix);

	/* Truncation is fine here: the front of the message matters most. */
	memcpy(old, error_msg, sizeof(old));
	memcpy(error_msg, prefix, plen);
	snprintf(error_msg + plen, sizeof(error_msg) - plen, "%.*s",
		 (int)(sizeof(error_msg) - plen - 1), old);
}

const char *error_last(void)
{
	return error_msg;
}

void error_clear(void)
{
	error_msg[0] = '\0';
}
