/* sync.c - `dataops-agent sync`: folders, trigger jobs, -runs jobs and the node. */
#include "sync.h"

#include "error.h"

int sync_run(const struct sync_opts *opts)
{
	(void)opts;
	error_set("sync: not implemented yet");
	return DA_ERROR;
}
