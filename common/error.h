/*
 * error.h - the project's error codes and the last error message.
 *
 * Functions return int: 0 on success, a negative DA_E* code on failure.
 * The lowest level that fails writes the message with error_set(); the
 * level that knows *where* (file:line, job path, queue id) adds that once
 * with error_prefix(). Nobody overwrites a message (libgit2's rule).
 * The message is thread-local, so parallel branches do not mix them.
 * Secret values are masked out of every message as it is stored (the
 * global redactor of common/redact.h), before it is cut to its 2047 bytes,
 * so an error can never carry a secret to a log or to Jenkins.
 */
#ifndef DA_ERROR_H
#define DA_ERROR_H

enum da_err {
	DA_OK = 0,
	DA_ERROR = -1,      /* anything without a code of its own */
	DA_ENOTFOUND = -2,  /* a named thing does not exist */
	DA_ECONFLICT = -3,  /* somebody else got there first */
	DA_EAUTH = -4,      /* credentials refused */
	DA_ETOOBIG = -5,    /* outside data past its size limit */
	DA_ETIMEOUT = -6,   /* a deadline passed */
	DA_ECANCELLED = -7, /* stopped on request */
	DA_ERETRY = -8,     /* transient: try again later */
	DA_EINVALID = -9,   /* bad input: config, catalog, parameter */
};
/* The lowest code in use, for tests that walk the enum. */
#define DA_ERR_LAST DA_EINVALID

/* Short text for a code; never NULL, never empty. */
const char *da_strerror(int code);

/* Set the calling thread's message (printf format). */
void error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, with ": <strerror(errno)>" appended. */
void error_set_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Put context in front of the current message ("jobs/x.xml:12: " + msg). */
void error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The current message, or "" when there is none. Borrowed. */
const char *error_last(void);
/* Forget the message of an error that was handled. */
void error_clear(void);

#endif
