/*
 * spool.h - a run's log on disk, written by producers and followed by readers.
 *
 * Every byte of a run's output is appended here first; whatever shows it
 * (the terminal for `run`, the streamed record to Jenkins for `agent`)
 * follows the file from an offset. So a slow reader never blocks the child,
 * memory stays bounded however much the child prints, and the file stays
 * the source of truth when a reader's connection breaks.
 *
 * Writers and readers may be different threads. Writes are atomic with
 * respect to each other (one lock), so lines of parallel branches never
 * interleave inside one write.
 *
 * With a redactor attached (spool_set_redactor) every byte passes through
 * a redact_stream before it reaches the file, under the same lock, so the
 * file, spool_size and spool_read_at only ever hold redacted bytes. The
 * stream may hold back the last bytes of a write that could begin a
 * secret; the next write or spool_finish releases them, so a reader sees
 * every byte once the spool is finished, and no secret split across two
 * writes reaches the file.
 */
#ifndef DA_SPOOL_H
#define DA_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool;

struct redactor;

/* Create (or truncate) the spool file at path, mode 0600. */
int spool_open(struct spool **out, const char *path);
/*
 * Open the spool file of an earlier run (a crashed agent's) for reading,
 * as a finished spool: readers get its bytes, writes are refused.
 */
int spool_open_finished(struct spool **out, const char *path);
/*
 * Pass every later write through a stream of r (borrowed: r must outlive
 * the spool). Call it before the first write: bytes already written stay
 * as they are. NULL detaches, releasing what the old stream held. Returns
 * DA_ERROR when releasing held bytes fails (the sticky write error).
 */
int spool_set_redactor(struct spool *s, struct redactor *r);
/*
 * Append len bytes. On a write error (disk full) the error is sticky:
 * this and every later write return DA_ERROR with the path and reason.
 */
int spool_write(struct spool *s, const void *data, size_t len);
/* Append a printf-formatted string. */
int spool_printf(struct spool *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Has a write failed (disk full)? 0, or DA_ERROR with the path and the
 * reason: a writer that cannot check every write (a child's output) asks
 * here before it calls the log complete.
 */
int spool_check(struct spool *s);
/*
 * No more writes: what the redactor held back is written, and readers get
 * 0 once they have read everything. Returns DA_ERROR when that last write
 * fails (or an earlier one did); the spool is finished either way.
 */
int spool_finish(struct spool *s);
/*
 * Read up to len bytes at offset, waiting up to timeout_ms for data.
 * Returns the count read (> 0), 0 at the end of a finished spool,
 * DA_ETIMEOUT when nothing came in time, DA_ERROR on a read error.
 */
ssize_t spool_read_at(struct spool *s, uint64_t offset, void *buf, size_t len, int timeout_ms);
/* Bytes written to the file so far (redacted; held-back bytes not counted). */
uint64_t spool_size(struct spool *s);
const char *spool_path(const struct spool *s);
/* Close and free; the file stays on disk, with any held-back bytes written. */
void spool_free(struct spool *s);

#endif
