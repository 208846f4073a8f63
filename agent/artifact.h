/*
 * artifact.h - outputs of Build operations, kept for the Deploy operations.
 *
 * Upstream, a Build job archives "<name>:<version>" with metadata.json and a
 * Deploy job copies it from the Build (through ArtifactUpload). Here the
 * agent keeps them on its host:
 *
 *   <state_dir>/artifacts/<operation path, '/' -> '__'>/<version>/<name>
 *   <state_dir>/artifacts/<...>/<version>/<name>.sha256   "<hex>  <name>\n"
 *
 * The version (usually the release tag) is percent-encoded where it is not
 * [A-Za-z0-9._-], so "release/2.8" and ".." stay one harmless segment.
 * Files are written to a temporary name, fsynced and renamed, so a reader
 * never sees half an artifact; a fetch checks the SHA-256 before handing
 * the file over.
 */
#ifndef DA_ARTIFACT_H
#define DA_ARTIFACT_H

#define ARTIFACT_SHA256_HEX 65 /* 64 hex digits and a NUL */

/* Copy src into the store; sha_out gets the hex SHA-256. */
int artifact_store(char sha_out[ARTIFACT_SHA256_HEX], const char *state_dir,
		   const char *operation, const char *version, const char *name,
		   const char *src);

/*
 * Copy a stored artifact to dest (its directory is created), checking its
 * SHA-256. DA_ENOTFOUND names the operation, the version and what to run.
 */
int artifact_fetch(char sha_out[ARTIFACT_SHA256_HEX], const char *state_dir,
		   const char *operation, const char *version, const char *name,
		   const char *dest);

#endif
