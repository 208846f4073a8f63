/* fsutil.c - mkdir -p, rm -rf and path checks. */
#define _GNU_SOURCE /* nftw, mkostemp */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "xmalloc.h"

int fs_mkdir_p(const char *path, mode_t mode)
{
	char *copy;
	int rc = 0;

	if (path[0] == '\0') {
		error_set("cannot create a directory with an empty name");
		return DA_EINVALID;
	}
	copy = xstrdup(path);
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

int fs_read_file(struct buf *out, const char *path, size_t max)
{
	char chunk[16384];
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = errno == ENOENT ? DA_ENOTFOUND : DA_ERROR;
		error_set_errno("%s: cannot open", path);
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		error_set("%s: not a regular file", path);
		rc = DA_ERROR;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set_errno("%s: cannot read", path);
			rc = DA_ERROR;
			goto out;
		}
		if (n == 0)
			break;
		if ((size_t)n > max - out->len || buf_put(out, chunk, (size_t)n) < 0) {
			if (max % (1u << 20) == 0)
				error_set("%s: file is larger than %zu MiB", path, max >> 20);
			else
				error_set("%s: file is larger than %zu bytes", path, max);
			rc = DA_ETOOBIG;
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

int fs_atomic_begin(char **tmp_out, const char *path, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);

	if (fd < 0) {
		error_set_errno("cannot create a temporary file beside %s", path);
		free(tmp);
		*tmp_out = NULL;
		return -1;
	}
	fchmod(fd, mode);
	*tmp_out = tmp;
	return fd;
}

int fs_atomic_commit(int fd, char *tmp, const char *path, bool ok, bool sync)
{
	int rc = ok ? 0 : DA_ERROR;

	if (rc == 0 && sync && fsync(fd) < 0) {
		error_set_errno("cannot sync %s", tmp);
		rc = DA_ERROR;
	}
	if (close(fd) < 0 && rc == 0) {
		error_set_errno("cannot write %s", tmp);
		rc = DA_ERROR;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		error_set_errno("cannot rename %s to %s", tmp, path);
		rc = DA_ERROR;
	}
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int fs_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		error_set_errno("cannot open %s", dir);
		return DA_ERROR;
	}
	if (fsync(fd) < 0) {
		error_set_errno("cannot sync %s", dir);
		rc = DA_ERROR;
	}
	close(fd);
	return rc;
}
