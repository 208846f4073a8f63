/*
 * bench_resolve - tag resolution in a warm mirror, against bare libgit2.
 *
 * Usage: bench_resolve CACHE_DIR URL TAG [ROUNDS]
 * Fetches URL into a mirror under CACHE_DIR, then times ROUNDS calls of
 * mirror_resolve(TAG) and, as the baseline in the same invocation, ROUNDS
 * opens + lookups + peels of refs/tags/TAG with libgit2 alone. Prints both
 * per-call times and their ratio.
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "mirror.h"
#include "timeutil.h"
#include "xmalloc.h"

static double per_call_us(uint64_t start_ms, uint64_t end_ms, int rounds)
{
	return (double)(end_ms - start_ms) * 1000.0 / rounds;
}

int main(int argc, char **argv)
{
	int rounds = argc > 4 ? atoi(argv[4]) : 200;
	char *mirror = NULL;
	char *ref;
	uint64_t t0, t1, t2;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_resolve CACHE_DIR URL TAG [ROUNDS]\n");
		return 2;
	}
	mirror_global_init();
	if (mirror_fetch(&mirror, argv[1], argv[2]) < 0) {
		fprintf(stderr, "fetch: %s\n", error_last());
		return 1;
	}
	ref = xasprintf("refs/tags/%s", argv[3]);

	t0 = time_mono_ms();
	for (int i = 0; i < rounds; i++) {
		struct mirror_resolution res;
		if (mirror_resolve(&res, mirror, argv[2], argv[3]) < 0) {
			fprintf(stderr, "resolve: %s\n", error_last());
			return 1;
		}
		mirror_resolution_dispose(&res);
	}
	t1 = time_mono_ms();
	for (int i = 0; i < rounds; i++) {
		git_repository *repo;
		git_reference *r;
		git_object *commit;
		if (git_repository_open_bare(&repo, mirror) < 0 ||
		    git_reference_lookup(&r, repo, ref) < 0 ||
		    git_reference_peel(&commit, r, GIT_OBJECT_COMMIT) < 0) {
			fprintf(stderr, "baseline failed\n");
			return 1;
		}
		git_object_free(commit);
		git_reference_free(r);
		git_repository_free(repo);
	}
	t2 = time_mono_ms();
	printf("tag resolution (warm mirror, %s): dataops-agent %.0f us/call, libgit2 baseline %.0f us/call, ratio %.2f\n",
	       argv[3], per_call_us(t0, t1, rounds), per_call_us(t1, t2, rounds),
	       (double)(t1 - t0) / (double)(t2 - t1 ? t2 - t1 : 1));
	free(ref);
	free(mirror);
	git_libgit2_shutdown();
	return 0;
}
