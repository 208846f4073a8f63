/* tmpdir.c - a private directory for a unit test group (see tmpdir.h). */
#include "tmpdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "xmalloc.h"

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
