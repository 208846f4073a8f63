/*
 * journal.h - what the agent has taken on, on disk before each step.
 *
 * A claimed run must end up in Jenkins once, complete, whatever happens to
 * the agent (issue 5, DESIGN §4). So before each state change of a run the
 * agent writes (and fsyncs) one small file per queue item under
 * <state_dir>/journal/, replaced atomically (temp file, fsync, rename,
 * fsync of the directory):
 *
 *   claiming  cancelItem is about to be posted: if the answer is lost, the
 *             item may be ours although nobody runs it (jenkins-api.md §6.2)
 *   claimed   Jenkins said 204: the run is ours
 *   running   the spool exists and the record stream is open
 *   finished  the run is over; result and texts are known
 *   recorded  Jenkins has the complete record: the file is removed
 *
 * A restarted agent reads what is left (journal_list) and finishes each
 * entry's story: reconcile a claim, record an interrupted run from its
 * spool, record a finished run whose record is not in Jenkins yet.
 *
 * The journal directory belongs to one agent at a time: journal_open takes
 * an exclusive lock on <state_dir>/agent.lock for the life of the journal,
 * so a second agent on the same state_dir is refused with a clear error
 * instead of "recovering" the first one's runs.
 */
#ifndef DA_JOURNAL_H
#define DA_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "run.h"

struct journal;

enum journal_state {
	JOURNAL_CLAIMING,
	JOURNAL_CLAIMED,
	JOURNAL_RUNNING,
	JOURNAL_FINISHED,
};

struct journal_entry {
	long long queue_id;
	enum journal_state state;
	char *job;               /* full name of the trigger job */
	char *user;              /* who triggered it; NULL when unknown */
	char **params;           /* "NAME=VALUE", NULL-terminated; NULL when none */
	char *spool;             /* path of the run's spool; NULL before running */
	long long since_ms;      /* wall clock (ms since the epoch) of the claim */
	/* From finished on. */
	enum run_result result;
	unsigned long duration_ms;
	char *display_name;
	char *description;
};

/* Open (creating) <state_dir>/journal and lock the state dir. DA_ECONFLICT when another agent holds it. */
int journal_open(struct journal **out, const char *state_dir);
void journal_free(struct journal *j);

/*
 * Write e, replacing the item's previous entry atomically. durable: fsync
 * the file and the directory, so a power loss cannot take it back. A step
 * whose loss only delays recovery (claimed, soon followed by running) may
 * skip that: an fsync costs milliseconds on the claim path.
 */
int journal_write(struct journal *j, const struct journal_entry *e, bool durable);
/* Make every entry written so far durable (one syncfs for a batch of lazy writes). */
int journal_sync(struct journal *j);
/* The item's story is over: remove its entry (durable: as journal_write). Missing is fine. */
int journal_remove(struct journal *j, long long queue_id, bool durable);

/*
 * Every entry on disk, oldest claim first. An entry that cannot be read is
 * reported in the agent's log by name and skipped (moved aside as
 * <name>.bad), so one damaged file never stops the others' recovery.
 */
int journal_list(struct journal *j, struct journal_entry **out, size_t *count);
void journal_entries_free(struct journal_entry *e, size_t count);

void journal_entry_dispose(struct journal_entry *e);

const char *journal_state_name(enum journal_state s);

#endif
