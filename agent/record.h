/*
 * record.h - the bytes of one run record, the body of the streamed POST to
 * an External Job's postBuildResult (jenkins-api.md §7).
 *
 * Pure: this module produces bytes into a caller's struct buf and never
 * touches a socket; the HTTP module sends whatever it finds there. The body
 * is
 *
 *   <run><log encoding="hexBinary">HEX<!---->HEX<!---->...<!---->
 *   </log><result>R</result><duration>MS</duration>
 *   <displayName>...</displayName><description>...</description></run>
 *
 * on one line. Why each piece has this shape (§7.2, §7.4):
 * - Jenkins prints every text event inside <log> through DecodingStream,
 *   which turns each two characters into one byte and never validates, so
 *   one whitespace character inside <log> shifts every later pair and
 *   garbles the rest of the log. Nothing here ever writes whitespace there.
 * - Text at the end of the received data is held back by the parser until
 *   more bytes come, so bare hex reaches the console one chunk late. Every
 *   record_log ends with <!---->, which makes the parser deliver it at once.
 * - An idle stream dies at Jetty's idle timeout (30 s, 5 s before 2.375,
 *   1 s when its thread pool runs low): the caller sends record_keepalive
 *   at least every 3 s (§7.5).
 * - The body is UTF-8; the request must say Content-Type:
 *   application/xml; charset=UTF-8 (§7.6), or Jetty reads it as Latin-1.
 *
 * Results (§7.2 step 5): <result> takes an integer, 0 = SUCCESS and any
 * other FAILURE, or a name that Result.fromString knows. So SUCCESS and
 * FAILURE go out as 0 and 1, which every plugin version reads, and
 * UNSTABLE, NOT_BUILT and ABORTED can only be expressed by name and go out
 * as UNSTABLE, NOT_BUILT and ABORTED.
 *
 * displayName and description need Run.UPDATE on top of Item.BUILD (§7.6):
 * without it Jenkins still answers 200 but turns the whole run FAILURE, so
 * pass NULL for both when the agent's user lacks that permission. They can
 * only be set at the end (§7.7). Duration 0 makes Jenkins use the wall time
 * of the POST (§7.2 step 8).
 *
 * Lifecycle: record_writer_new, record_open, any number of record_log and
 * record_keepalive, record_close, record_writer_free. A call out of that
 * order returns DA_EINVALID. Every append is all or nothing: on an error
 * (DA_ETOOBIG when out would pass its max) neither out nor the writer has
 * changed, so the caller may send what out holds, empty it and call again.
 */
#ifndef DA_RECORD_H
#define DA_RECORD_H

#include <stddef.h>

#include "buf.h"

struct record_writer;

/* What Jenkins keeps as the run's result (§7.7). */
enum record_result {
	RECORD_SUCCESS,
	RECORD_UNSTABLE,
	RECORD_FAILURE,
	RECORD_NOT_BUILT,
	RECORD_ABORTED,
};

/* A new writer, before <run>. Never fails (dies on OOM). */
int record_writer_new(struct record_writer **out);
/* Accepts NULL. */
void record_writer_free(struct record_writer *w);

/* Append <run><log encoding="hexBinary">. Once, first. */
int record_open(struct record_writer *w, struct buf *out);
/*
 * Append len bytes of log as lowercase hex followed by <!---->, so Jenkins
 * decodes them as soon as they arrive. Only between open and close; len 0
 * appends nothing. Whole lines per call read best (plugins may buffer by
 * line, §7.4).
 */
int record_log(struct record_writer *w, struct buf *out, const void *data, size_t len);
/* Append <!---->: a keep-alive, before open or inside <log>. */
int record_keepalive(struct record_writer *w, struct buf *out);
/*
 * Append </log><result>R</result><duration>MS</duration>, then
 * <displayName> and <description> when not NULL, then </run>. Text is
 * escaped (&, <, >, ", and CR as &#13; so it survives XML's line-end
 * normalization); characters XML 1.0 does not allow (control characters
 * other than TAB, LF and CR, U+FFFE, U+FFFF) and invalid UTF-8 become
 * U+FFFD, so no text can break the document. A duration past Java's
 * Long.MAX_VALUE is clamped to it.
 */
int record_close(struct record_writer *w, struct buf *out, enum record_result result,
    unsigned long duration_ms, const char *display_name, const char *description);

/* Bytes that record_log appends for len bytes of log (SIZE_MAX on overflow). */
size_t record_hex_size(size_t len);
/* "SUCCESS", "UNSTABLE", ...; never NULL. */
const char *record_result_name(enum record_result result);

/* A body as Jenkins reads it. Plain data: record_parsed_dispose. */
struct record_parsed {
	struct buf log;              /* the bytes DecodingStream writes to the log file */
	enum record_result result;
	long long duration_ms;       /* 0 when absent */
	char *display_name;          /* NULL when absent */
	char *description;           /* NULL when absent */
};

/*
 * Decode a complete body the way ExternalRun does (§7.2 steps 3-5): the
 * first two start tags are taken as <run> and <log> whatever their names;
 * every text and CDATA character up to the first end tag is fed, as UTF-8,
 * through an exact copy of DecodingStream (Character.getNumericValue on
 * signed bytes, the odd nibble kept across events, whitespace corrupting
 * the pairs); comments are skipped. Then <result>, then duration,
 * displayName and description until </run>; anything after it is ignored.
 * Returns DA_EINVALID (message set) where Jenkins' parser would throw,
 * i.e. where the run would end FAILURE with a stack trace; *out is then
 * empty. For tests and the fuzz target; not a general XML parser.
 */
int record_parse(const char *body, size_t len, struct record_parsed *out);
/* Accepts an already disposed or zeroed struct. */
void record_parsed_dispose(struct record_parsed *p);

#endif
