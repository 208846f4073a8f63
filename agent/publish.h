/*
 * publish.h - one run record in Jenkins, streamed from the run's spool
 * while the run goes on.
 *
 * A publisher owns one thread and one connection: it opens ONE chunked POST
 * to the runs job's postBuildResult (jenkins-api.md §7) and follows the
 * spool from offset 0, so Jenkins shows the run in progress with a live
 * console. The child's output goes to the spool (a file) first; a slow or
 * dead Jenkins only makes the publisher lag behind, never the child wait,
 * and memory stays bounded (one read buffer, one encoded chunk).
 *
 * Timing, from §7.4/§7.5:
 * - Whole lines are sent as soon as they are in the spool; a partial line
 *   waits for its end at most flush_ms (1 s), then goes out as it is.
 * - Every write is HEX<!----> (record.h), so Jenkins prints it at once.
 * - With nothing to send, <!----> goes out every keepalive_ms (1 s):
 *   inside Jetty's idle timeout (30 s; 5 s before 2.375) and inside the
 *   1 s it falls to when its thread pool runs low, which many open
 *   streams make likely (§7.5).
 *
 * The end of the record (result, duration, display name, description) is
 * only known when the run is over: publish_finish gives it, then the
 * publisher sends what is left of the spool and </run>, and waits for
 * Jenkins' answer, which comes only after </run> (§7.2 step 8).
 *
 * A stream cannot be resumed (§7): when it breaks, the run goes on and the
 * spool keeps everything; the caller may publish the whole run again from
 * the spool once the run is over (publish_start with a note).
 */
#ifndef DA_PUBLISH_H
#define DA_PUBLISH_H

#include <stdint.h>

#include "jenkins.h"
#include "run.h"
#include "spool.h"

struct publish;

struct publish_opts {
	const struct jenkins *jenkins; /* cloned: the publisher has its own connection */
	const char *runs_job;          /* full name of the External Job ("F/NAME-runs") */
	struct spool *spool;           /* followed from offset 0; must outlive the publisher */
	const char *note;              /* text put in the log before the spool's; NULL none */
	unsigned flush_ms;             /* a partial line waits at most this; 0: 1000 */
	unsigned keepalive_ms;         /* <!----> this often while idle; 0: 1000 */
};

/* Start the publisher thread. The POST opens at once. */
int publish_start(struct publish **out, const struct publish_opts *opts);

/*
 * The run is over: its result and the texts for the record. Call it BEFORE
 * spool_finish, or right after publish_start for a spool that is already
 * finished (a run recorded again): the publisher closes the record once it
 * has read the finished spool to its end and has this. Strings are copied; display_name and
 * description may be NULL (left out, e.g. without Run.UPDATE).
 */
void publish_finish(struct publish *p, enum run_result result, unsigned long duration_ms,
		    const char *display_name, const char *description);

/*
 * Text to log after the spool's last byte (before the record's end), when
 * the spool itself cannot take it: "the disk is full". Call it before
 * spool_finish. Copied.
 */
void publish_set_epilogue(struct publish *p, const char *text);

/*
 * Wait for the publisher to end and free it. 0 when the whole record was
 * sent and Jenkins answered 200; otherwise the error of the stream (the
 * record in Jenkins is then partial or missing; the spool is whole).
 * *log_bytes (may be NULL) gets the log bytes that were sent.
 */
int publish_wait(struct publish *p, uint64_t *log_bytes);

#endif
