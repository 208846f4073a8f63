/*
 * sync.h - `dataops-agent sync`: the Jenkins side of the catalog, created or
 * updated idempotently (DESIGN §3, jenkins-api.md §2-§4).
 *
 * For every operation F/NAME of the catalog (once per served environment
 * where the path has {env}) sync keeps in Jenkins:
 *   - the folders of F, parents first (cloudbees Folder). A folder that
 *     exists is never re-posted: it may hold other jobs, views and
 *     permissions that are not ours;
 *   - F/NAME, the trigger job users click: a parameterized FreeStyle project
 *     restricted to the agent label, concurrent, quiet period 0, with a
 *     failing shell step as a guard against a JVM executor (§9);
 *   - F/NAME-runs, the External Job that holds the runs;
 *   - the agent's node: an EXCLUSIVE JNLP DumbSlave carrying the labels.
 *
 * "Unchanged" is decided by comparing the fields sync manages, read from
 * both documents with libxml2, never the bytes: Jenkins re-serializes what
 * it is sent. When an item differs, what sync does not manage is carried
 * over from Jenkins' copy (a job's other properties and its disabled flag,
 * a node's temporary offline cause and node properties), so an update
 * neither brings a node back online (>= 2.482, §2.4) nor drops a job's
 * permissions. An External Job is re-posted only when a managed field
 * really differs, because re-posting it while a run streams may lose that
 * run (§3.3).
 *
 * The generators and the comparison are pure functions, for unit tests.
 */
#ifndef DA_SYNC_H
#define DA_SYNC_H

#include <stdbool.h>
#include <stdio.h>

#include "catalog.h"
#include "config.h"
#include "jenkins.h"

struct sync_opts {
	const struct config *cfg;
	const struct catalog *cat;
	char *const *envp;     /* for DATAOPS_JENKINS_TOKEN */
	bool dry_run;          /* change nothing, print what would change */
	long wait_ms;          /* how long an unreachable Jenkins is retried; 0: once */
	FILE *out;             /* one line per item, then a summary */
};

/*
 * Bring Jenkins in line with the catalog, printing one line per item
 * ("created folder Deploy", "updated job Deploy/dev/DataPipeline/Kafka
 * (parameters)", "unchanged runs job ..."; with dry_run "create ...",
 * "update ..."). Returns 0 when every item is in place (or, dry run, was
 * read). Stops at once with DA_ERETRY / DA_ETIMEOUT when Jenkins is
 * unreachable or answers 5xx, DA_EAUTH for a refused token or a missing
 * permission (the message names user, URL and permission), DA_EINVALID
 * for a config that cannot be synced. An item Jenkins refuses, or one of
 * another type in the way, is reported on stderr (naming the item and
 * Jenkins' words), the items below it are skipped, the others still
 * synced, and the result is DA_ERROR.
 */
int sync_run(const struct sync_opts *opts);

/*
 * Create or update this agent's node alone, as sync_run does ([jenkins]
 * node, labels; [agent] executors, state_dir), printing its line to out
 * (may be NULL). For the agent command, which keeps its node current.
 */
int sync_node(struct jenkins *j, const struct config *cfg, bool dry_run, FILE *out);

/* ---- pure parts, for unit tests ---- */

struct sync_job_spec {
	const struct catalog_operation *op;
	const char *full_name;  /* the concrete path: "Deploy/dev/DataPipeline/Kafka" */
	const char *label;      /* the agent label the job is restricted to */
};

/* A folder's config.xml (new string). */
char *sync_folder_xml(const char *full_name);
/* The trigger job's config.xml (new string). */
char *sync_trigger_xml(const struct sync_job_spec *spec);
/* The -runs External Job's config.xml (new string). */
char *sync_runs_xml(const struct sync_job_spec *spec);
/* The node's description: "dataops-agent VERSION on HOST" (new string). */
char *sync_node_description(const char *host);

/*
 * Compare the fields sync manages in want (our config.xml) with have
 * (Jenkins' copy, any serialization). *out = NULL when they agree, else a
 * new string naming what differs ("parameters, label"). DA_ECONFLICT when
 * have is another kind of item or node ("is a hudson.model.FreeStyleProject,
 * not a folder"); DA_EINVALID when have is not well-formed XML or has a
 * DOCTYPE.
 */
int sync_config_diff(char **out, const char *want, const char *have, size_t have_len);

/*
 * The document to post to update have to want (new string in *out): want,
 * plus what sync does not manage taken from have (see above). Errors as
 * sync_config_diff.
 */
int sync_config_merge(char **out, const char *want, const char *have, size_t have_len);

#endif
