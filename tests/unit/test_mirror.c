/*
 * Unit tests for agent/mirror.c against real repositories.
 *
 * The origins are made with the git command line (through system(),
 * acceptable in tests only) under one private directory, with a fixed
 * identity and no user or system config, so that the tests see the same
 * git on every machine. URLs are plain paths and file:// URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "mirror.h"
#include "tmpdir.h"
#include "xmalloc.h"

static char *root;

/* Run a shell command built from fmt; the test fails unless it exits 0. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

/* A new directory under root for one test: "<root>/<name>". New string. */
static char *test_dir(const char *name)
{
	char *dir = xasprintf("%s/%s", root, name);

	assert_int_equal(mkdir(dir, 0755), 0);
	return dir;
}

/* A new origin repository "<dir>/origin" with one commit on main. */
static char *origin_new(const char *dir)
{
	char *origin = xasprintf("%s/origin", dir);

	sh("git -c init.defaultBranch=main init -q '%s' && cd '%s' && "
	   "echo one > file.txt && git add . && git commit -qm one", origin, origin);
	return origin;
}

/* The full hex id of spec in repo. */
static void rev(char out[41], const char *repo, const char *spec)
{
	char *file = xasprintf("%s/.rev", root);
	FILE *f;

	sh("git -C '%s' rev-parse '%s' > '%s'", repo, spec, file);
	f = fopen(file, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, 41, f));
	fclose(f);
	assert_int_equal(strlen(out), 40);
	free(file);
}

/* Fetch origin into "<dir>/cache"; the mirror's path. New string. */
static char *fetch_ok(const char *dir, const char *url)
{
	char *cache = xasprintf("%s/cache", dir);
	char *path = NULL;
	int rc = mirror_fetch(&path, cache, url);

	if (rc != 0)
		fail_msg("mirror_fetch(%s): %d %s", url, rc, error_last());
	assert_non_null(path);
	free(cache);
	return path;
}

static void resolve_ok(struct mirror_resolution *res, const char *mirror,
		       const char *url, const char *name)
{
	int rc = mirror_resolve(res, mirror, url, name);

	if (rc != 0)
		fail_msg("mirror_resolve(%s): %d %s", name, rc, error_last());
}

static void checkout_ok(const char *mirror, const char *commit, const char *dest)
{
	int rc = mirror_checkout(mirror, commit, dest);

	if (rc != 0)
		fail_msg("mirror_checkout(%s): %d %s", dest, rc, error_last());
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_mirror__annotated_tag_resolves_to_commit(void **state)
{
	char *dir = test_dir("annotated"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;
	char want[41];

	(void)state;
	sh("git -C '%s' tag -a v2.8 -m 'December Release'", origin);
	rev(want, origin, "v2.8^{commit}");
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "v2.8");
	assert_string_equal(res.commit, want);
	assert_string_equal(res.ref, "refs/tags/v2.8");
	assert_string_equal(res.version, "v2.8");
	assert_true(res.annotated);
	assert_null(res.note);
	mirror_resolution_dispose(&res);

	resolve_ok(&res, mirror, origin, "refs/tags/v2.8");
	assert_string_equal(res.commit, want);
	assert_string_equal(res.version, "v2.8");
	assert_true(res.annotated);
	mirror_resolution_dispose(&res);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__lightweight_tag(void **state)
{
	char *dir = test_dir("lightweight"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;
	char want[41];

	(void)state;
	sh("git -C '%s' tag secor-0.25", origin);
	rev(want, origin, "HEAD");
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "secor-0.25");
	assert_string_equal(res.commit, want);
	assert_string_equal(res.ref, "refs/tags/secor-0.25");
	assert_false(res.annotated);
	assert_null(res.note);
	mirror_resolution_dispose(&res);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__tag_of_a_tag_is_peeled(void **state)
{
	char *dir = test_dir("tagoftag"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;
	char want[41];

	(void)state;
	sh("cd '%s' && git tag -a inner -m inner && git tag -a outer -m outer inner && "
	   "echo two > file.txt && git commit -qam two", origin);
	rev(want, origin, "inner^{commit}");
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "outer");
	assert_string_equal(res.commit, want);
	assert_true(res.annotated);
	mirror_resolution_dispose(&res);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__tag_wins_over_same_named_branch(void **state)
{
	char *dir = test_dir("ambiguous"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;
	char tag[41], branch[41];

	(void)state;
	/* Like sunbird-data-pipeline: tag and branch release-2.8.0 diverged. */
	sh("cd '%s' && git tag release-2.8.0 && git checkout -qb release-2.8.0 && "
	   "echo branch > file.txt && git commit -qam branch && git checkout -q main && "
	   "git tag same && git branch same", origin);
	rev(tag, origin, "refs/tags/release-2.8.0");
	rev(branch, origin, "refs/heads/release-2.8.0");
	mirror = fetch_ok(dir, origin);

	resolve_ok(&res, mirror, origin, "release-2.8.0");
	assert_string_equal(res.commit, tag);
	assert_string_equal(res.ref, "refs/tags/release-2.8.0");
	assert_string_equal(res.version, "release-2.8.0");
	assert_non_null(res.note);
	{
		char *want = xasprintf("'release-2.8.0' is both a tag (%.7s) and a "
				       "branch (%.7s); using the tag", tag, branch);
		assert_string_equal(res.note, want);
		free(want);
	}
	mirror_resolution_dispose(&res);

	/* Explicit refs/heads/ picks the branch, without a note. */
	resolve_ok(&res, mirror, origin, "refs/heads/release-2.8.0");
	assert_string_equal(res.commit, branch);
	assert_string_equal(res.ref, "refs/heads/release-2.8.0");
	assert_string_equal(res.version, "release-2.8.0");
	assert_false(res.annotated);
	assert_null(res.note);
	mirror_resolution_dispose(&res);

	/* Both at one commit: nothing worth a note. */
	resolve_ok(&res, mirror, origin, "same");
	assert_string_equal(res.ref, "refs/tags/same");
	assert_null(res.note);
	mirror_resolution_dispose(&res);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__bare_name_falls_back_to_branch(void **state)
{
	char *dir = test_dir("branchonly"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;
	char want[41];

	(void)state;
	/* Like sunbird-analytics-service: a release branch and no such tag. */
	sh("cd '%s' && git checkout -qb release-2.8.0 && echo b > file.txt && "
	   "git commit -qam b && git checkout -q main", origin);
	rev(want, origin, "refs/heads/release-2.8.0");
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "release-2.8.0");
	assert_string_equal(res.commit, want);
	assert_string_equal(res.ref, "refs/heads/release-2.8.0");
	assert_string_equal(res.version, "release-2.8.0");
	assert_null(res.note);
	mirror_resolution_dispose(&res);

	/* But refs/tags/ means the tag only. */
	assert_int_equal(mirror_resolve(&res, mirror, origin, "refs/tags/release-2.8.0"),
			 DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "tag 'release-2.8.0' not found"));
	assert_null(res.ref);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__empty_name_is_the_default_branch(void **state)
{
	char *dir = test_dir("head"), *origin = origin_new(dir), *mirror, *url;
	struct mirror_resolution res;
	char want[41], *version;

	(void)state;
	/* The remote's HEAD is "develop", not the mirror's initial branch. */
	sh("cd '%s' && git checkout -qb develop && echo d > file.txt && "
	   "git commit -qam d", origin);
	rev(want, origin, "develop");
	url = xasprintf("file://%s", origin);
	mirror = fetch_ok(dir, url);
	resolve_ok(&res, mirror, url, "");
	assert_string_equal(res.commit, want);
	assert_string_equal(res.ref, "refs/heads/develop");
	version = xasprintf("develop_%.7s", want);
	assert_string_equal(res.version, version);
	assert_false(res.annotated);
	mirror_resolution_dispose(&res);
	free(version);

	/* And "main" when that is the remote's HEAD. */
	sh("git -C '%s' checkout -q main", origin);
	rev(want, origin, "main");
	free(mirror);
	mirror = fetch_ok(dir, url);
	resolve_ok(&res, mirror, url, "");
	version = xasprintf("main_%.7s", want);
	assert_string_equal(res.version, version);
	assert_string_equal(res.commit, want);
	mirror_resolution_dispose(&res);
	free(version);
	free(mirror);
	free(url);
	free(origin);
	free(dir);
}

static void test_mirror__missing_tag_lists_nearest_tags(void **state)
{
	char *dir = test_dir("missing"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;
	const char *msg;

	(void)state;
	sh("cd '%s' && for t in release-2.8.2 release-2.8.0 release-2.8.1 "
	   "release-1.0 v9 something-else-entirely; do git tag $t; done && "
	   "git branch release-2.8.1-branch", origin);
	mirror = fetch_ok(dir, origin);

	assert_int_equal(mirror_resolve(&res, mirror, origin, "release-2.8.9"),
			 DA_ENOTFOUND);
	msg = error_last();
	assert_non_null(strstr(msg, "tag or branch 'release-2.8.9' not found in "));
	assert_non_null(strstr(msg, origin));
	assert_non_null(strstr(msg, "; nearest tags: release-2.8.0, release-2.8.1, "
				    "release-2.8.2, release-1.0, v9"));
	assert_null(strstr(msg, "something-else"));
	assert_null(res.ref);
	assert_null(res.version);

	assert_int_equal(mirror_resolve(&res, mirror, origin, "refs/tags/release-2.8.9"),
			 DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "tag 'release-2.8.9' not found in "));
	assert_null(strstr(error_last(), "tag or branch"));

	assert_int_equal(mirror_resolve(&res, mirror, origin, "refs/heads/release-2.8.9"),
			 DA_ENOTFOUND);
	assert_non_null(strstr(error_last(), "branch 'release-2.8.9' not found in "));
	assert_non_null(strstr(error_last(), "nearest branches: release-2.8.1-branch, main"));
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__invalid_names_refused_before_any_fetch(void **state)
{
	static const char *bad[] = {
		"-rf", "a..b", "x y", "refs/tags/", "refs/heads/", "$(reboot)",
		"`id`", "a;b", "tab\there", "new\nline", "foo.lock", "a@{1}", "@",
		"trail/", "/lead", "a//b", "back\\slash", "star*", "q?", "c:d",
		"refs/pull/1/head", "refs/tags/-x", "a~1", "a^", "x.", "[x",
	};
	static const char *good[] = {
		"", "release-2.8.0", "refs/tags/release-2.8.0", "refs/heads/release-2.8.0",
		"secor-0.25", "v2.8", "feature/x_y", "release-2.8.4_RC1", "1.5.1+build",
	};
	struct mirror_resolution res;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mirror_ref_name_is_valid(bad[i]))
			fail_msg("'%s' was accepted", bad[i]);
		/* The mirror does not exist: the name is refused first. */
		assert_int_equal(mirror_resolve(&res, "/nonexistent/mirror.git",
						"https://example.org/r.git", bad[i]),
				 DA_EINVALID);
		assert_non_null(strstr(error_last(), "is not a valid git ref name "
					"(repository https://example.org/r.git)"));
		assert_null(res.ref);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!mirror_ref_name_is_valid(good[i]))
			fail_msg("'%s' was refused", good[i]);
}

static void test_mirror__tag_of_a_tree_is_refused(void **state)
{
	char *dir = test_dir("treetag"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;

	(void)state;
	sh("cd '%s' && git tag treetag 'HEAD^{tree}' && "
	   "git tag -a blobtag -m blob \"$(git rev-parse HEAD:file.txt)\"", origin);
	mirror = fetch_ok(dir, origin);
	assert_int_equal(mirror_resolve(&res, mirror, origin, "treetag"), DA_EINVALID);
	assert_non_null(strstr(error_last(), "refs/tags/treetag"));
	assert_non_null(strstr(error_last(), "points to a tree"));
	assert_int_equal(mirror_resolve(&res, mirror, origin, "blobtag"), DA_EINVALID);
	assert_non_null(strstr(error_last(), "refs/tags/blobtag"));
	assert_non_null(strstr(error_last(), "points to a blob"));
	assert_null(res.ref);
	free(mirror);
	free(origin);
	free(dir);
}

/* Names in dir, sorted, joined by ','. New string. */
static char *list_dir(const char *dir)
{
	struct dirent **names;
	char *out = xstrdup(""), *next;
	int n = scandir(dir, &names, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 &&
		    strcmp(names[i]->d_name, "..") != 0) {
			next = xasprintf("%s%s%s", out, *out ? "," : "",
					 names[i]->d_name);
			free(out);
			out = next;
		}
		free(names[i]);
	}
	free(names);
	return out;
}

static void test_mirror__checkout_writes_the_tagged_tree(void **state)
{
	char *dir = test_dir("checkout"), *origin = origin_new(dir), *mirror;
	char *dest = xasprintf("%s/ws/deep/src", dir), *p, *s;
	struct mirror_resolution res;
	char link[64];
	struct stat st;
	ssize_t n;

	(void)state;
	sh("cd '%s' && echo tag > file.txt && ln -s file.txt link && mkdir -p sub && "
	   "echo x > sub/x && printf '#!/bin/sh\\n' > run.sh && chmod +x run.sh && "
	   "git add . && git commit -qm tagged && git tag -a r1 -m r1 && "
	   "git checkout -qb r1 && echo branch > file.txt && echo e > extra.txt && "
	   "git add . && git commit -qm branch && git checkout -q main", origin);
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "r1");
	assert_non_null(res.note);
	checkout_ok(mirror, res.commit, dest);

	s = list_dir(dest);
	assert_string_equal(s, "file.txt,link,run.sh,sub");
	free(s);
	p = xasprintf("%s/file.txt", dest);
	s = tmpdir_read_file(p);
	assert_non_null(s);
	assert_string_equal(s, "tag\n");
	free(s);
	free(p);
	p = xasprintf("%s/link", dest);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(p, link, sizeof(link) - 1);
	assert_int_equal(n, 8);
	link[n] = '\0';
	assert_string_equal(link, "file.txt");
	free(p);
	p = xasprintf("%s/run.sh", dest);
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mode & S_IXUSR);
	free(p);
	p = xasprintf("%s/sub/x", dest);
	assert_int_equal(access(p, F_OK), 0);
	free(p);
	p = xasprintf("%s/.git", dest);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	/* The mirror gained no index from it. */
	p = xasprintf("%s/index", mirror);
	assert_int_equal(access(p, F_OK), -1);
	free(p);

	mirror_resolution_dispose(&res);
	free(dest);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__checkout_refuses_non_empty_dir(void **state)
{
	char *dir = test_dir("checkout_busy"), *origin = origin_new(dir), *mirror;
	char *dest = xasprintf("%s/ws", dir), *file = xasprintf("%s/ws2", dir);
	struct mirror_resolution res;

	(void)state;
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "");
	assert_int_equal(mkdir(dest, 0755), 0);
	/* An existing empty directory is fine. */
	checkout_ok(mirror, res.commit, dest);
	/* Now it is not empty. */
	assert_int_equal(mirror_checkout(mirror, res.commit, dest), DA_EINVALID);
	assert_non_null(strstr(error_last(), "not empty"));
	sh("rm -rf '%s' && mkdir '%s' && touch '%s/.hidden'", dest, dest, dest);
	assert_int_equal(mirror_checkout(mirror, res.commit, dest), DA_EINVALID);
	/* A file where the directory should be. */
	sh("rm -rf '%s' && touch '%s'", dest, dest);
	assert_int_equal(mirror_checkout(mirror, res.commit, dest), DA_EINVALID);
	assert_non_null(strstr(error_last(), "not a directory"));
	/* Not a commit id: refused before the directory is made. */
	assert_int_equal(mirror_checkout(mirror, "HEAD", file), DA_EINVALID);
	assert_int_equal(access(file, F_OK), -1);
	mirror_resolution_dispose(&res);
	free(file);
	free(dest);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__fetch_again_reuses_mirror_and_sees_new_tag(void **state)
{
	char *dir = test_dir("refetch"), *origin = origin_new(dir), *m1, *m2, *base;
	struct mirror_resolution res;
	char want[41];
	size_t len;

	(void)state;
	m1 = fetch_ok(dir, origin);
	/* "<cache>/origin-<12 hex>.git" */
	base = strrchr(m1, '/') + 1;
	len = strlen(base);
	assert_int_equal(len, strlen("origin-") + 12 + strlen(".git"));
	assert_memory_equal(base, "origin-", 7);
	assert_int_equal(strspn(base + 7, "0123456789abcdef"), 12);
	assert_string_equal(base + len - 4, ".git");
	assert_int_equal(mirror_resolve(&res, m1, origin, "v2"), DA_ENOTFOUND);

	sh("cd '%s' && echo two > file.txt && git commit -qam two && git tag v2", origin);
	rev(want, origin, "v2");
	m2 = fetch_ok(dir, origin);
	assert_string_equal(m1, m2);
	resolve_ok(&res, m2, origin, "v2");
	assert_string_equal(res.commit, want);
	mirror_resolution_dispose(&res);

	/* A moved tag is followed (+refspec). */
	sh("cd '%s' && echo three > file.txt && git commit -qam three && "
	   "git tag -f v2 >/dev/null", origin);
	rev(want, origin, "v2");
	free(m2);
	m2 = fetch_ok(dir, origin);
	resolve_ok(&res, m2, origin, "v2");
	assert_string_equal(res.commit, want);
	mirror_resolution_dispose(&res);
	free(m1);
	free(m2);
	free(origin);
	free(dir);
}

static void test_mirror__mirror_name_comes_from_the_url(void **state)
{
	char *dir = test_dir("naming"), *origin = origin_new(dir), *bare, *url, *m1, *m2;
	const char *base;

	(void)state;
	bare = xasprintf("%s/my repo$.git", dir);
	sh("git clone -q --bare '%s' '%s'", origin, bare);
	/* Trailing slash and ".git" dropped, odd characters made '_'. */
	url = xasprintf("file://%s/", bare);
	m1 = fetch_ok(dir, url);
	base = strrchr(m1, '/') + 1;
	assert_memory_equal(base, "my_repo_-", 9);
	assert_int_equal(strlen(base), 9 + 12 + 4);
	/* The same repository under another URL is another mirror. */
	m2 = fetch_ok(dir, bare);
	assert_string_not_equal(m1, m2);
	assert_memory_equal(strrchr(m2, '/') + 1, "my_repo_-", 9);
	free(m2);
	free(m1);
	free(url);
	free(bare);
	free(origin);
	free(dir);
}

static void test_mirror__deleted_tag_is_pruned(void **state)
{
	char *dir = test_dir("prune"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;

	(void)state;
	sh("cd '%s' && git tag gone && git tag kept && git branch gone-branch", origin);
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "gone");
	mirror_resolution_dispose(&res);
	resolve_ok(&res, mirror, origin, "gone-branch");
	mirror_resolution_dispose(&res);

	sh("cd '%s' && git tag -d gone >/dev/null && git branch -qD gone-branch", origin);
	free(mirror);
	mirror = fetch_ok(dir, origin);
	assert_int_equal(mirror_resolve(&res, mirror, origin, "gone"), DA_ENOTFOUND);
	assert_int_equal(mirror_resolve(&res, mirror, origin, "gone-branch"),
			 DA_ENOTFOUND);
	resolve_ok(&res, mirror, origin, "kept");
	mirror_resolution_dispose(&res);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__interrupted_creation_is_redone(void **state)
{
	char *dir = test_dir("interrupted"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;

	(void)state;
	sh("git -C '%s' tag t1", origin);
	mirror = fetch_ok(dir, origin);
	/* What a crash in the middle of git_repository_init leaves. */
	sh("rm -rf '%s' && mkdir -p '%s/objects' && echo junk > '%s/junk'",
	   mirror, mirror, mirror);
	free(mirror);
	mirror = fetch_ok(dir, origin);
	resolve_ok(&res, mirror, origin, "t1");
	mirror_resolution_dispose(&res);
	free(mirror);
	free(origin);
	free(dir);
}

static void test_mirror__fetch_error_names_url_without_password(void **state)
{
	char *dir = test_dir("fetch_error"), *cache = xasprintf("%s/cache", dir);
	char *missing = xasprintf("%s/no-such-repo", dir);
	char *path = (char *)1;

	(void)state;
	assert_true(mirror_fetch(&path, cache, missing) < 0);
	assert_null(path);
	{
		char *want = xasprintf("cannot fetch %s: ", missing);
		assert_memory_equal(error_last(), want, strlen(want));
		free(want);
	}
	/* Port 1 on loopback: refused at once, no network needed. */
	assert_true(mirror_fetch(&path, cache,
				 "http://deploy:s3cret@127.0.0.1:1/org/r.git") < 0);
	assert_non_null(strstr(error_last(), "cannot fetch http://127.0.0.1:1/org/r.git: "));
	assert_null(strstr(error_last(), "s3cret"));
	free(missing);
	free(cache);
	free(dir);
}

struct fetch_thread {
	const char *cache;
	const char *url;
	char *path;
	int rc;
	char msg[256];
};

static void *fetch_thread_main(void *arg)
{
	struct fetch_thread *t = arg;

	t->rc = mirror_fetch(&t->path, t->cache, t->url);
	snprintf(t->msg, sizeof(t->msg), "%s", error_last());
	return NULL;
}

static void test_mirror__parallel_fetches_share_the_cache(void **state)
{
	char *dir = test_dir("parallel"), *origin = origin_new(dir);
	char *cache = xasprintf("%s/cache", dir);
	struct fetch_thread t[4];
	pthread_t th[4];
	struct mirror_resolution res;

	(void)state;
	sh("cd '%s' && for i in 1 2 3 4 5 6 7 8; do echo $i > f$i && git add f$i && "
	   "git commit -qm $i && git tag t$i; done", origin);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct fetch_thread){ .cache = cache, .url = origin };
		assert_int_equal(pthread_create(&th[i], NULL, fetch_thread_main, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++) {
		if (t[i].rc != 0)
			fail_msg("thread %d: %d %s", i, t[i].rc, t[i].msg);
		assert_string_equal(t[i].path, t[0].path);
	}
	resolve_ok(&res, t[0].path, origin, "t8");
	mirror_resolution_dispose(&res);
	for (int i = 0; i < 4; i++)
		free(t[i].path);
	free(cache);
	free(origin);
	free(dir);
}

static void test_mirror__ten_thousand_tags(void **state)
{
	char *dir = test_dir("many"), *origin = origin_new(dir), *mirror;
	struct mirror_resolution res;
	struct timespec t0;
	double fetch_ms, refetch_ms, hit_ms, miss_ms, head_ms;
	char want[41];

	(void)state;
	rev(want, origin, "HEAD");
	sh("cd '%s' && seq -f 'create refs/tags/release-%%05g %s' 1 10000 | "
	   "git update-ref --stdin && git pack-refs --all && "
	   "git tag -a annotated-1 -m a", origin, want);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	mirror = fetch_ok(dir, origin);
	fetch_ms = ms_since(&t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	resolve_ok(&res, mirror, origin, "release-04711");
	hit_ms = ms_since(&t0);
	assert_string_equal(res.commit, want);
	mirror_resolution_dispose(&res);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	resolve_ok(&res, mirror, origin, "refs/tags/release-09999");
	head_ms = ms_since(&t0);
	mirror_resolution_dispose(&res);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(mirror_resolve(&res, mirror, origin, "release-4711"),
			 DA_ENOTFOUND);
	miss_ms = ms_since(&t0);
	assert_non_null(strstr(error_last(), "nearest tags: release-04711, "));

	/* The annotated tag, read from the packed refs, is still peeled. */
	resolve_ok(&res, mirror, origin, "annotated-1");
	assert_true(res.annotated);
	assert_string_equal(res.commit, want);
	mirror_resolution_dispose(&res);

	/* Pruning works on packed refs too; an unchanged fetch is quick. */
	sh("git -C '%s' tag -d release-00042 >/dev/null", origin);
	free(mirror);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mirror = fetch_ok(dir, origin);
	refetch_ms = ms_since(&t0);
	assert_int_equal(mirror_resolve(&res, mirror, origin, "release-00042"),
			 DA_ENOTFOUND);
	resolve_ok(&res, mirror, origin, "release-00043");
	mirror_resolution_dispose(&res);

	print_message("10000 tags: fetch %.0f ms, refetch %.0f ms, resolve hit %.2f ms, "
		      "full ref %.2f ms, miss with suggestions %.2f ms\n",
		      fetch_ms, refetch_ms, hit_ms, head_ms, miss_ms);
	assert_true(hit_ms < 200.0);
	assert_true(head_ms < 200.0);
	free(mirror);
	free(origin);
	free(dir);
}

static int suite_setup(void **state)
{
	char *home;

	(void)state;
	root = tmpdir_new("mirror");
	if (root == NULL)
		return -1;
	/* No user or system config may change what git does here. */
	home = xasprintf("%s/home", root);
	mkdir(home, 0755);
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", home, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "Test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@example.org", 1);
	setenv("GIT_COMMITTER_NAME", "Test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@example.org", 1);
	setenv("GIT_AUTHOR_DATE", "2020-04-17T12:00:00Z", 1);
	setenv("GIT_COMMITTER_DATE", "2020-04-17T12:00:00Z", 1);
	free(home);
	mirror_global_init();
	return 0;
}

static int suite_teardown(void **state)
{
	(void)state;
	if (getenv("DA_KEEP_TMP")) {
		print_message("kept %s\n", root);
		free(root);
	} else {
		tmpdir_free(root);
	}
	root = NULL;
	/* libgit2 keeps global state until shutdown; LeakSanitizer sees it. */
	git_libgit2_shutdown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror__annotated_tag_resolves_to_commit),
		cmocka_unit_test(test_mirror__lightweight_tag),
		cmocka_unit_test(test_mirror__tag_of_a_tag_is_peeled),
		cmocka_unit_test(test_mirror__tag_wins_over_same_named_branch),
		cmocka_unit_test(test_mirror__bare_name_falls_back_to_branch),
		cmocka_unit_test(test_mirror__empty_name_is_the_default_branch),
		cmocka_unit_test(test_mirror__missing_tag_lists_nearest_tags),
		cmocka_unit_test(test_mirror__invalid_names_refused_before_any_fetch),
		cmocka_unit_test(test_mirror__tag_of_a_tree_is_refused),
		cmocka_unit_test(test_mirror__checkout_writes_the_tagged_tree),
		cmocka_unit_test(test_mirror__checkout_refuses_non_empty_dir),
		cmocka_unit_test(test_mirror__fetch_again_reuses_mirror_and_sees_new_tag),
		cmocka_unit_test(test_mirror__mirror_name_comes_from_the_url),
		cmocka_unit_test(test_mirror__deleted_tag_is_pruned),
		cmocka_unit_test(test_mirror__interrupted_creation_is_redone),
		cmocka_unit_test(test_mirror__fetch_error_names_url_without_password),
		cmocka_unit_test(test_mirror__parallel_fetches_share_the_cache),
		cmocka_unit_test(test_mirror__ten_thousand_tags),
	};
	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
