/*
 * redact.h - secret values masked out of every byte the agent writes.
 *
 * A struct redactor holds the secret values (the Jenkins token, the DDDP
 * password, the catalog's [secrets], parameters marked secret) and, for
 * each, the forms in which a step or a library may print it. Every byte
 * of a run's log passes through a struct redact_stream before it reaches
 * the spool (spool_set_redactor), and every error message and line of the
 * agent's own log passes through the process-wide redactor
 * (redact_set_global), so no secret reaches a file, Jenkins or stderr.
 *
 * What is masked, for a value V (buildkite's internal/redact does the raw
 * form only; the rest is what logs of real deployments show):
 * - V itself;
 * - V URL-encoded: any non-alphanumeric character of V may appear as %XX
 *   (hex digits in either case, so %2F and %2f) and a space also as '+';
 *   partly encoded forms match too (encodeURI leaves '/' as it is);
 * - V JSON-escaped: any non-alphanumeric character may appear as \uXXXX
 *   (either case; a surrogate pair above U+FFFF) or as its short escape
 *   (\" \\ \/ \b \f \n \r \t), as jansson, Python (ensure_ascii), Go
 *   (\u003c for '<') and PHP (JSON_HEX_*) write it. Alphanumerics are never
 *   escaped by any encoder, so they only match themselves;
 * - V base64-encoded, standard and URL-safe alphabets: the whole encoding,
 *   padded or not, and, inside a longer base64 stream (an HTTP Basic
 *   "user:token" header, a base64 blob of a config), the part of the
 *   encoding that depends on V's bytes alone, for each of the three
 *   alignments of V in the stream. That part is exact, so a stream that
 *   holds V at any offset always holds one of the three. The one or two
 *   characters at each edge mix V's first and last bits with its
 *   neighbours' and stay visible: they carry at most 4 bits of V each.
 *   The base64 forms are themselves matched in their URL-encoded and
 *   JSON-escaped forms (%2B, %2F, %3D, \/).
 * - a value of several lines is also masked line by line (each line
 *   trimmed of blanks, lines shorter than REDACT_MIN_LEN skipped), so a key
 *   printed with other line ends or indented is still masked.
 * Not covered (say so in reviews rather than assume it): doubly encoded
 * forms (%252F, a JSON string inside a JSON string), base64 broken into
 * lines inside V's part, hex and other encodings, a value that a step
 * transforms (upper case, split by the step itself).
 *
 * Why values shorter than REDACT_MIN_LEN (4) bytes are skipped: masking
 * every "ab" or "0" would make every log unreadable without protecting
 * anything, since a 3-byte secret falls to a few million guesses anyway
 * (buildkite skips short values for the same reason). redact_add says when
 * it skipped one, so the caller can warn.
 *
 * Why one fixed mask (REDACT_MASK, "****"): a mask as long as the value
 * would tell its length; "****" tells nothing, and overlapping or adjacent
 * secrets merge into one mask, so not even their number shows. Every form
 * is at least REDACT_MIN_LEN bytes long, so redacted text is never longer
 * than the original, and a caller can size its buffer by its input.
 *
 * Streaming: a stream holds back only the bytes from the first position
 * that may still become a secret form (a proper prefix of one of the forms
 * reaches the end of what was written); everything before it is released at
 * once, and redact_stream_finish releases the rest. So a secret split across
 * two or more writes is masked, ordinary text is never delayed past the
 * write that decides it, and no byte is lost. The output does not depend on
 * how the input was split. Matching runs every form at once as one NFA
 * (each state keeps the earliest start that reaches it), so the cost per
 * byte is bounded by the number of live states, never by backtracking;
 * bytes that cannot start a form are skipped by a table lookup. Measured
 * with -O2 on 64 KiB writes: about 900 MB/s of ordinary log text with 5
 * values, 400 MB/s with 20; random base64 text, the worst case, about
 * 220 and 90 MB/s.
 *
 * Threads: a redactor may be used by any number of threads at once, and
 * values may be added while it is used (a read-write lock). A stream is
 * used by one thread at a time (the spool calls it under its own lock).
 * A redactor must outlive the streams made from it and its time as the
 * global one.
 */
#ifndef DA_REDACT_H
#define DA_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define REDACT_MASK "****"
#define REDACT_MIN_LEN 4     /* shorter values are skipped, see above */
#define REDACT_MAX_LEN 4096  /* longer values are refused: forms bound the hold-back */

struct redactor;
struct redact_stream;

/* A new redactor without values. Never fails (dies on OOM). */
int redactor_new(struct redactor **out);
/* Accepts NULL. Streams made from it must be freed first. */
void redactor_free(struct redactor *r);

/*
 * Add a secret value (any bytes) and its forms. Returns 0 when added or
 * already there, REDACT_SKIPPED (> 0) when it is shorter than
 * REDACT_MIN_LEN and so not redacted, DA_ETOOBIG (message set, never the
 * value) when longer than REDACT_MAX_LEN. Thread-safe.
 */
#define REDACT_SKIPPED 1
int redact_add(struct redactor *r, const void *value, size_t len);
/* Same for a C string. */
int redact_add_str(struct redactor *r, const char *value);
/* Values held (a multi-line value counts once per line added). */
size_t redact_count(struct redactor *r);

/*
 * Append the redacted form of len bytes to out. The output is at most len
 * bytes; DA_ETOOBIG (out unchanged) when out cannot take len more bytes.
 */
int redact_mem(struct redactor *r, const void *data, size_t len, struct buf *out);
/* The redacted copy of a C string. New string. */
char *redact_strdup(struct redactor *r, const char *s);

/* A stream over r (borrowed: r must outlive it). Never fails. */
int redact_stream_new(struct redact_stream **out, struct redactor *r);
/*
 * Filter len more bytes: append to out what is decided, keep back what may
 * be the start of a secret form. Appends at most len + redact_stream_held()
 * bytes; DA_ETOOBIG (nothing changed) when out has less room than that.
 */
int redact_stream_write(struct redact_stream *st, const void *data, size_t len,
			struct buf *out);
/*
 * End of input: append everything held back (redacted). The stream then
 * starts over, as if new. Same room rule as redact_stream_write.
 */
int redact_stream_finish(struct redact_stream *st, struct buf *out);
/* Bytes held back now (never more than the longest form of a value). */
size_t redact_stream_held(const struct redact_stream *st);
/* Accepts NULL; held bytes are dropped (call finish first to keep them). */
void redact_stream_free(struct redact_stream *st);

/*
 * The process-wide redactor that error messages (common/error.c) and the
 * agent's log (common/log.c) pass through. Borrowed; NULL turns it off.
 * Set it before threads start, clear it before freeing r.
 */
void redact_set_global(struct redactor *r);
/* The global redactor, or NULL. Borrowed. */
struct redactor *redact_global(void);
/* True when the global redactor has a value: one atomic load when not. */
bool redact_global_active(void);

#endif
