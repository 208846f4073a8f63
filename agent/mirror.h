/*
 * mirror.h - release refs resolved with libgit2 from bare mirrors.
 *
 * Each repository URL gets one bare mirror under the cache directory
 * ("<cache>/<last URL segment>-<12 hex of the URL's hash>.git"). A fetch
 * brings every branch and tag (every refs/heads/ and refs/tags/ ref, pruned). Two
 * runs, in one agent or two processes, may share the cache: an exclusive
 * flock on "<mirror>.lock" is held while the mirror is created or fetched.
 *
 * Resolution order for a name, fixed and documented:
 *   "refs/tags/X" -> that tag only; "refs/heads/X" -> that branch only;
 *   bare "X" -> the tag X if it exists, else the branch X;
 *   ""       -> the mirror's HEAD branch (version "<branch>_<short hash>").
 * Annotated tags (and tags of tags) are peeled to their commit. When a bare
 * name is both a tag and a branch at different commits, the tag wins and
 * the resolution carries a note saying so.
 */
#ifndef DA_MIRROR_H
#define DA_MIRROR_H

#include <stdbool.h>

struct mirror_resolution {
	char commit[41];   /* hex */
	char *ref;         /* the full ref chosen: "refs/tags/release-2.8.0" */
	char *version;     /* the tag or branch name; "<branch>_<short>" for "" */
	bool annotated;    /* the tag was an annotated tag object */
	char *note;        /* a line for the log, or NULL ("tag release-2.8.0 wins over branch release-2.8.0 at 50811ef") */
};

/* Call once per process before any other mirror_ function. */
void mirror_global_init(void);

/* Is name acceptable as a release ref ("" allowed; "refs/tags/x", bare names)? */
bool mirror_ref_name_is_valid(const char *name);

/*
 * Create or update the mirror of url under cache_dir. *path_out gets the
 * mirror's path (new string). Errors name the URL and libgit2's message.
 */
int mirror_fetch(char **path_out, const char *cache_dir, const char *url);

/*
 * Resolve name in the mirror. DA_EINVALID for a name that is not a valid
 * ref name; DA_ENOTFOUND when it does not exist: the message names url and
 * lists up to 5 nearest existing tags. out is disposed on error.
 */
int mirror_resolve(struct mirror_resolution *out, const char *mirror_path,
		   const char *url, const char *name);
void mirror_resolution_dispose(struct mirror_resolution *res);

/*
 * Write the tree of commit (hex) into dest_dir, which must not exist or be
 * empty. Symlinks are kept; no .git is written.
 */
int mirror_checkout(const char *mirror_path, const char *commit, const char *dest_dir);

#endif
