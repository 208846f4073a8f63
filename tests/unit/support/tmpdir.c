/* tmpdir.c - a private directory for a unit test group (see tmpdir.h). */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "tmpdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fsutil.h"
#include "xmalloc.h"

char *tmpdir;

char *tmpdir_new(const char *name)
{
	char *dir = xasprintf("/tmp/da-%s-XXXXXX", name);

	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "cannot make a directory like %s: %s\n", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	return dir;
}

void tmpdir_free(char *dir)
{
	if (dir == NULL)
		return;
	fs_remove_tree(dir);
	free(dir);
}

int tmpdir_setup(void **state)
{
	(void)state;
	tmpdir = tmpdir_new(program_invocation_short_name);
	return tmpdir ? 0 : -1;
}

int tmpdir_teardown(void **state)
{
	(void)state;
	tmpdir_free(tmpdir);
	tmpdir = NULL;
	return 0;
}

char *tmpdir_read_file(const char *path)
{
	struct buf b;

	buf_init(&b, 64u << 20);
	if (fs_read_file(&b, path, 64u << 20) != 0) {
		buf_dispose(&b);
		return NULL;
	}
	return buf_detach(&b);
}
