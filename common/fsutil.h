/*
 * fsutil.h - small file-system helpers shared by the modules.
 */
#ifndef DA_FSUTIL_H
#define DA_FSUTIL_H

#include <stdbool.h>
#include <sys/types.h>

struct buf;

/*
 * Read the whole regular file at path (symlinks followed) into out, which
 * the caller has initialised; at most max bytes. Errors name the path:
 * DA_ENOTFOUND when it does not exist, DA_ETOOBIG past max, DA_ERROR else.
 * Opened non-blocking, so a FIFO put in a file's place cannot hang us.
 */
int fs_read_file(struct buf *out, const char *path, size_t max);
/* mkdir -p with mode for the directories it creates. */
int fs_mkdir_p(const char *path, mode_t mode);
/* rm -rf; never follows symlinks; a missing path is not an error. */
int fs_remove_tree(const char *path);
/* Is path an existing directory? */
bool fs_is_dir(const char *path);
/*
 * Is rel a relative path that stays inside its base: not absolute, no ".."
 * segment, no empty segment other than a trailing one?
 */
bool fs_relpath_is_safe(const char *rel);

/*
 * Atomic replacement of path in two halves: fs_atomic_begin creates a
 * unique temporary file beside path (mkostemp: two writers never share
 * one) with mode, and returns its fd (or -1, message set); the caller
 * writes; fs_atomic_commit fsyncs (when sync), closes and renames it over
 * path when ok, and removes it otherwise (always closes fd and frees tmp).
 * Without sync the replacement is atomic for every process, but a power
 * loss may leave the old file.
 */
int fs_atomic_begin(char **tmp, const char *path, mode_t mode);
int fs_atomic_commit(int fd, char *tmp, const char *path, bool ok, bool sync);
/* fsync a directory, so that renames and unlinks in it are durable. */
int fs_sync_dir(const char *dir);

#endif
