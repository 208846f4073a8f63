/*
 * xmalloc.h - allocation that never returns NULL.
 *
 * Small allocations die on OOM (tmux's xmalloc.c): an OOM path that is
 * never tested is worse than a clean abort. Anything sized from outside
 * (Jenkins, the engine, a child, a file) is capped by its owner first.
 */
#ifndef DA_XMALLOC_H
#define DA_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grow an array of nmemb elements of size bytes, checking overflow. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "dataops-agent: fatal: ..." and abort. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
