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

#endif
