/* fuzz_util.c - files for the targets whose loaders read from disk. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "fuzz.h"

static char *tmpdir;

static void fuzz_tmpdir_remove(void)
{
	if (tmpdir)
		fs_remove_tree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

const char *fuzz_tmpdir(void)
{
	char tmpl[64];

	if (tmpdir)
		return tmpdir;
	snprintf(tmpl, sizeof(tmpl), "%s/da-fuzz-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(tmpl)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	tmpdir = strdup(tmpl);
	atexit(fuzz_tmpdir_remove);
	return tmpdir;
}

void fuzz_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	const char *p = data;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}
