/*
 * sync.h - `dataops-agent sync`: the Jenkins side of the catalog, created or
 * updated idempotently (DESIGN §3).
 *
 * For every operation F/NAME of the catalog (each served environment where
 * the path has {env}): the folders of F, the trigger job F/NAME users click
 * (a parameterized FreeStyle project restricted to the agent label, with a
 * failing shell step as a guard), the External Job F/NAME-runs that holds
 * the runs, and the agent's node.
 */
#ifndef DA_SYNC_H
#define DA_SYNC_H

#include <stdbool.h>
#include <stdio.h>

#include "catalog.h"
#include "config.h"

struct sync_opts {
	const struct config *cfg;
	const struct catalog *cat;
	char *const *envp;     /* for DATAOPS_JENKINS_TOKEN */
	bool dry_run;          /* change nothing, print what would change */
	long wait_ms;          /* how long an unreachable Jenkins is retried */
	FILE *out;             /* one line per item */
};

/*
 * Bring Jenkins in line with the catalog. 0 when every item is in place;
 * DA_EINVALID for a config that cannot be synced, DA_ERETRY / DA_ETIMEOUT
 * when Jenkins is unreachable, DA_EAUTH for a refused token or a missing
 * permission, another code for an item Jenkins refused (the message names
 * the item and Jenkins' words).
 */
int sync_run(const struct sync_opts *opts);

#endif
