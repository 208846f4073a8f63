/*
 * standalone_driver.c - replays a fuzz target's corpus without libFuzzer.
 *
 * Under gcc (CI, the sanitizer build) every target is linked with this main
 * instead of libFuzzer's, and ctest runs it over tests/fuzz/corpus/<target>/,
 * so every saved case, and every crash fixed since, is a regression test on
 * every build (libgit2's fuzzers/standalone_driver.c, SQLite's fuzzcheck).
 * Arguments are files or directories; files of a directory run in name
 * order. Each input is copied into a buffer of exactly its size, so the
 * sanitizers see an overread as libFuzzer would. An empty or missing
 * corpus is a failure: a test that replays nothing proves nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;

	if (!fp || fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		if (fp)
			fclose(fp);
		return -1;
	}
	data = malloc(size ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, fp) != (size_t)size) {
		fprintf(stderr, "cannot read %s\n", path);
		fclose(fp);
		free(data);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	free(data);
	return 0;
}

static int only_files(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++) {
		struct dirent **names;
		struct stat st;
		int n;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: no such corpus\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) != 0)
				return 1;
			count++;
			continue;
		}
		n = scandir(argv[i], &names, only_files, alphasort);
		if (n < 0) {
			fprintf(stderr, "%s: cannot list\n", argv[i]);
			return 1;
		}
		for (int k = 0; k < n; k++) {
			size_t len = strlen(argv[i]) + strlen(names[k]->d_name) + 2;
			char *path = malloc(len);

			snprintf(path, len, "%s/%s", argv[i], names[k]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				if (run_file(path) != 0)
					return 1;
				count++;
			}
			free(path);
			free(names[k]);
		}
		free(names);
	}
	if (count == 0) {
		fprintf(stderr, "no inputs replayed\n");
		return 1;
	}
	printf("ok - %zu inputs replayed\n", count);
	return 0;
}
