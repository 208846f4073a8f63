/*
 * scheduler.h - `dataops-agent agent`: the node, the poll loop, the
 * executors.
 *
 * The agent registers its node (labels, executors, a description with
 * version and host) and shows its state in the node's offline message
 * ("idle", "running Deploy/dev/DataPipeline/Kafka for queue 42",
 * "draining"); an HTTP-only node is always offline in Jenkins' eyes
 * (jenkins-api.md §2.1), so the message is the only place to say it.
 *
 * It polls the queue every poll_interval (with jitter, never later than
 * the interval, so that agents started together do not poll in step) and
 * claims the items whose task is an operation of its catalog in an
 * environment it serves, up to `executors` runs at once. Each claimed
 * item runs on its own thread: a spool under state_dir/runs, a record
 * streamed to the task's "-runs" External Job from before the tag is
 * resolved, the run, then the record's end (result, duration, display name
 * "#<queue id> <tag>", a description naming the queue item, the user, the
 * tag, the commit and the agent). When the live stream broke, the whole
 * run is recorded again from the spool once Jenkins answers.
 *
 * Draining: on the first stop request (SIGTERM) or when somebody else set
 * the node's offline cause in Jenkins (a person's "Update offline reason"),
 * the agent claims nothing more and lets running runs finish. A second stop
 * request cancels them. Bringing the node back online in Jenkins resumes.
 *
 * Cancelling from Jenkins: every trigger job has one more parameter,
 * SCHEDULER_CANCEL_PARAM. "Build with Parameters" with it set to a queue
 * id (the number in a run's name, "#42 release-2.8.0") asks to cancel that
 * run: the agent running it claims the request, stops the run (its process
 * groups get SIGTERM, then SIGKILL after the grace) and records it ABORTED
 * with who cancelled it; the request itself is recorded too, saying what
 * was done. A request for a run nobody runs any more is answered by any
 * agent after a few seconds: still queued (removed from the queue), or
 * already finished (nothing to do).
 */
#ifndef DA_SCHEDULER_H
#define DA_SCHEDULER_H

#include <signal.h>

#include "catalog.h"
#include "config.h"
#include "redact.h"

/* The trigger jobs' parameter that turns a build into a cancel request. */
#define SCHEDULER_CANCEL_PARAM "cancel_queue_id"

struct scheduler_opts {
	const struct config *cfg;
	const struct catalog *cat;
	char *const *envp;                 /* the agent's environment (token, steps' PATH...) */
	volatile sig_atomic_t *stop;       /* >= 1: drain and exit; >= 2: cancel the runs */
	long jenkins_wait_ms;              /* how long an unreachable Jenkins is waited for at start; -1 forever */
	struct redactor *redactor;         /* masks every run's console; secret parameters are added to it */
};

/*
 * Serve until *stop. 0 after a clean stop; DA_EAUTH when Jenkins refused
 * the token or a permission (message names user, URL, permission);
 * DA_EINVALID for a Jenkins that is too old or a config it refuses;
 * DA_ERETRY when Jenkins stayed unreachable at start for jenkins_wait_ms.
 */
int scheduler_run(const struct scheduler_opts *opts);

#endif
