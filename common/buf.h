/*
 * buf.h - a growable byte buffer with a hard size limit.
 *
 * Like curl's dynbuf: every buffer has a max at init, and appending past it
 * returns DA_ETOOBIG instead of growing, so data from outside can never
 * grow memory without bound. The contents are always NUL-terminated.
 * struct buf is plain data owned by the caller: buf_init / buf_dispose.
 */
#ifndef DA_BUF_H
#define DA_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *ptr;  /* NUL-terminated contents, NULL until first append */
	size_t len; /* bytes in use, not counting the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* hard limit on len */
};

#define BUF_INIT_MAX(m) { NULL, 0, 0, (m) }

void buf_init(struct buf *b, size_t max);
/* Append bytes; DA_ETOOBIG (and b unchanged) past max. */
int buf_put(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Contents as a string; "" when empty. Borrowed. */
const char *buf_cstr(const struct buf *b);
/* Empty it, keeping the memory. */
void buf_clear(struct buf *b);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hand the string to the caller (never NULL) and empty the buffer. */
char *buf_detach(struct buf *b);
void buf_dispose(struct buf *b);

#endif
