/*
 * idle_baseline.c - the baseline of the idle-agent benchmark (DESIGN.md §5):
 * a minimal program that links the same four libraries as the agent
 * (libcurl, libxml2, jansson, libgit2), initializes them as the agent does,
 * makes one HTTP request, then sleeps. Its RSS and private dirty memory are
 * what any program built on these libraries pays; the agent is measured
 * against them.
 */
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

int main(int argc, char **argv)
{
	CURL *c;
	json_t *j;

	if (argc != 3) {
		fprintf(stderr, "usage: %s URL SECONDS\n", argv[0]);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	git_libgit2_init();
	xmlInitParser();
	j = json_loads("{\"items\":[]}", 0, NULL);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_perform(c);
	fprintf(stdout, "ready\n");
	fflush(stdout);
	sleep((unsigned)atoi(argv[2]));
	curl_easy_cleanup(c);
	json_decref(j);
	git_libgit2_shutdown();
	curl_global_cleanup();
	return 0;
}
