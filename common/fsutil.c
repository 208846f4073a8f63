/* fsutil.c - mkdir -p, rm -rf and path checks. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "xmalloc.h"

int fs_mkdir_p(const char *path, mode_t mode)
{
	char *copy = xstrdup(path);
	int rc = 0;

	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			error_set_errno("cannot create directory %s", copy);
			rc = DA_ERROR;
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (!fs_is_dir(path)) {
		error_set("%s exists and is not a directory", path);
		rc = DA_ERROR;
	}
out:
	free(copy);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT) {
		error_set_errno("cannot remove %s (%s)", path,
				type == FTW_DP ? "directory" : "file");
		return -1;
	}
	return 0;
}

int fs_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (error_set_errno("cannot stat %s", path), DA_ERROR);
	if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
		return DA_ERROR;
	return 0;
}

bool fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool fs_relpath_is_safe(const char *rel)
{
	const char *seg = rel;

	if (rel[0] == '/')
		return false;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);

		if (len == 2 && seg[0] == '.' && seg[1] == '.')
			return false;
		if (len == 0 && end) /* "a//b" or leading "/" */
			return false;
		if (!end)
			return true;
		seg = end + 1;
	}
}
