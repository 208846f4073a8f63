/*
 * jobpath.h - Jenkins job paths of catalog operations.
 *
 * The catalog writes a path once with an "{env}" placeholder
 * ("Deploy/{env}/DataPipeline/Kafka"); an agent serves the environments of
 * its config. The upstream jobs read env and module from JOB_NAME segments
 * -3 and -2 ("Deploy/dev/DataPipeline/Yarn" -> env "dev", module
 * "DataPipeline"); we keep that contract for the steps.
 */
#ifndef DA_JOBPATH_H
#define DA_JOBPATH_H

#include <stdbool.h>

/* Does the path contain the "{env}" placeholder? */
bool jobpath_has_env(const char *path);
/* The path with "{env}" replaced by env (new string). */
char *jobpath_expand(const char *path, const char *env);
/*
 * Match a concrete Jenkins path against a catalog path. On a match returns
 * true and, when the catalog path has "{env}", sets *env_out to a new
 * string with the environment (NULL otherwise).
 */
bool jobpath_match(const char *pattern, const char *path, char **env_out);
/* Segment -3 (env) and -2 (module) of a path, new strings or NULL. */
void jobpath_env_module(const char *path, char **env_out, char **module_out);
/* Is s usable as one path segment (an env name, an operation name)? */
bool jobpath_segment_is_valid(const char *s);
/*
 * The External Job that holds the runs of a trigger job: its sibling
 * "<path>-runs" (DESIGN.md's Jenkins-side naming). New string.
 */
char *jobpath_runs_job(const char *trigger_path);

#endif
