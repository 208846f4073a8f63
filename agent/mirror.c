/*
 * mirror.c - bare mirrors, release ref resolution and checkout (libgit2).
 *
 * Every call opens its own git_repository and frees it before returning:
 * libgit2 objects are not safe to share between threads, and a run is
 * short compared to the cost of an open. The only global is the
 * pthread_once flag of mirror_global_init.
 *
 * Concurrency between runs and processes is handled by an flock on
 * "<mirror>.lock" around creation and fetch. Readers (resolve, checkout)
 * take no lock: git updates refs by lock-file + rename and writes packs
 * before the refs that need them, so a reader sees either the old or the
 * new ref, never a half-written one.
 */
#include "mirror.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/repository.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define TAGS_PREFIX "refs/tags/"
#define HEADS_PREFIX "refs/heads/"
/* Longest release name we accept; git has no limit, a parameter has. */
#define NAME_MAX_LEN 255
/* How many suggestions a "not found" message carries. */
#define NEAREST_MAX 5
/* Tags of tags deeper than this are refused rather than followed. */
#define PEEL_MAX 16
/* Hex digits of the URL hash in the mirror's directory name. */
#define HASH_HEX 12
/* Longest sanitized URL segment kept in the directory name. */
#define SEGMENT_MAX 64
#define SHORT_HEX 7
/* Pack the refs after a fetch that updated at least this many. */
#define PACK_REFS_AFTER 256

static pthread_once_t mirror_once = PTHREAD_ONCE_INIT;

static void mirror_global_init_once(void)
{
	if (git_libgit2_init() < 0)
		fatal("cannot initialise libgit2");
	/*
	 * The cache belongs to the agent, and tests and CI run as root on
	 * directories made by other users: without this, libgit2 refuses
	 * them with a misleading "safe.directory was not found".
	 */
	if (git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0) < 0)
		fatal("cannot disable libgit2 owner validation");
}

void mirror_global_init(void)
{
	pthread_once(&mirror_once, mirror_global_init_once);
}

/* libgit2's last message for this thread, never NULL. */
static const char *git_message(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/*
 * The URL as it may appear in a message or a log line: any
 * "user:password@" is dropped, so that a token in a URL never reaches
 * Jenkins or the journal. New string.
 */
static char *url_display(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host, *at, *slash;

	if (!scheme)
		return xstrdup(url);
	host = scheme + 3;
	slash = strchr(host, '/');
	at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

/*
 * FNV-1a, 64 bits. Not cryptographic and need not be: it only keeps two
 * URLs with the same last segment ("org1/repo", "org2/repo") apart, and
 * 48 of its bits are plenty for the few hundred URLs of one agent.
 */
static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* "<cache>/<segment>-<12 hex>.git" for url. New string. */
static char *mirror_path_for(const char *cache_dir, const char *url)
{
	const char *end = url + strlen(url), *start;
	char seg[SEGMENT_MAX + 1];
	char hex[17];
	size_t n = 0;

	/* Trailing slashes and ".git" are not part of the name. */
	while (end > url && end[-1] == '/')
		end--;
	if (end - url >= 4 && memcmp(end - 4, ".git", 4) == 0)
		end -= 4;
	/* The last segment; ':' covers scp-like "git@host:org/repo". */
	for (start = end; start > url && start[-1] != '/' && start[-1] != ':'; start--)
		;
	for (const char *p = start; p < end && n < SEGMENT_MAX; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		seg[n++] = ok ? c : '_';
	}
	seg[n] = '\0';
	if (n == 0 || strspn(seg, ".") == n)
		snprintf(seg, sizeof(seg), "repo");
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)fnv1a64(url));
	return xasprintf("%s/%s-%.*s.git", cache_dir, seg, HASH_HEX, hex);
}

/*
 * Open the mirror, creating it when missing. A directory that exists but
 * is not a repository is what an interrupted creation leaves behind (we
 * hold the lock, so nobody else is creating it): remove it and start over.
 */
static int mirror_open_or_create(git_repository **out, const char *path)
{
	struct stat st;
	int error;

	*out = NULL;
	if (stat(path, &st) == 0) {
		if (git_repository_open_bare(out, path) == 0)
			return 0;
		log_warn("mirror %s is not a repository (%s); recreating it",
			 path, git_message());
		if ((error = fs_remove_tree(path)) < 0)
			return error;
	}
	if (git_repository_init(out, path, 1) < 0) {
		error_set("cannot create mirror %s: %s", path, git_message());
		return DA_ERROR;
	}
	return 0;
}

struct fetch_stats {
	unsigned int updated;
};

static int fetch_update_tips(const char *refname, const git_oid *a,
			     const git_oid *b, void *payload)
{
	struct fetch_stats *stats = payload;

	(void)refname;
	(void)a;
	(void)b;
	stats->updated++;
	return 0;
}

static int pack_refs(git_repository *repo)
{
	git_refdb *refdb = NULL;
	int error;

	if ((error = git_repository_refdb(&refdb, repo)) == 0)
		error = git_refdb_compress(refdb);
	git_refdb_free(refdb);
	return error;
}

/* Fetch every branch and tag into repo, pruning, and follow remote HEAD. */
static int mirror_update(git_repository *repo, const char *url, const char *shown)
{
	char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	git_strarray refspecs = { specs, 2 };
	git_remote_create_options ro;
	git_fetch_options fo;
	struct fetch_stats stats = { 0 };
	git_remote *remote = NULL;
	git_buf head = { 0 };
	uint64_t t0 = time_mono_ms();
	int error = 0;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	fo.update_fetchhead = 0;
	fo.callbacks.update_tips = fetch_update_tips;
	fo.callbacks.payload = &stats;

	/*
	 * Anonymous (no name): the URL never lands in the mirror's config.
	 * SKIP_INSTEADOF: the catalog's URL is the URL, whatever a user's
	 * url.*.insteadOf says; it also avoids a libgit2 1.5 leak (pcre2
	 * match data, ~20 KB per config entry, fixed upstream in #6382).
	 */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	if (git_remote_create_with_opts(&remote, url, &ro) < 0)
		goto git_fail;
	/*
	 * Connect first so that the advertised HEAD is known;
	 * git_remote_fetch reuses an open connection.
	 */
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &fo.callbacks,
			       &fo.proxy_opts, &fo.custom_headers) < 0)
		goto git_fail;
	if (git_remote_default_branch(&head, remote) < 0) {
		/* An empty remote, or one whose HEAD is detached: keep ours. */
		git_error_clear();
		git_buf_dispose(&head);
	}
	if (git_remote_fetch(remote, &refspecs, &fo, "mirror fetch") < 0)
		goto git_fail;
	/*
	 * A first fetch writes one loose file per ref; a repository with
	 * thousands of tags is read faster (and "not found" suggestions
	 * enumerate faster) from one packed-refs file. Readers stay safe:
	 * packed-refs is renamed into place before the loose files go.
	 */
	if (stats.updated >= PACK_REFS_AFTER && pack_refs(repo) < 0) {
		/* The fetch itself succeeded; loose refs are only slower. */
		log_warn("mirror: cannot pack the refs of %s: %s", shown, git_message());
		git_error_clear();
	}
	/* So that "" (the default branch) resolves through the mirror's HEAD. */
	if (head.ptr && git_repository_set_head(repo, head.ptr) < 0)
		goto git_fail;
	log_info("mirror: fetched %s in %ld ms, %u refs updated", shown,
		 (long)(time_mono_ms() - t0), stats.updated);
	goto out;
git_fail:
	error_set("cannot fetch %s: %s", shown, git_message());
	error = DA_ERROR;
out:
	git_buf_dispose(&head);
	git_remote_free(remote);
	return error;
}

int mirror_fetch(char **path_out, const char *cache_dir, const char *url)
{
	git_repository *repo = NULL;
	char *path = NULL, *lock_path = NULL, *shown = url_display(url);
	int lock_fd = -1, error;

	*path_out = NULL;
	mirror_global_init();
	if ((error = fs_mkdir_p(cache_dir, 0755)) < 0) {
		error_prefix("cannot fetch %s: ", shown);
		goto out;
	}
	path = mirror_path_for(cache_dir, url);
	lock_path = xasprintf("%s.lock", path);
	/*
	 * The lock file is kept: deleting it would let a third process lock a
	 * new inode while a second still holds the old one.
	 */
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0) {
		error_set_errno("cannot fetch %s: cannot open %s", shown, lock_path);
		error = DA_ERROR;
		goto out;
	}
	while (flock(lock_fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		error_set_errno("cannot fetch %s: cannot lock %s", shown, lock_path);
		error = DA_ERROR;
		goto out;
	}
	if ((error = mirror_open_or_create(&repo, path)) < 0) {
		error_prefix("cannot fetch %s: ", shown);
		goto out;
	}
	if ((error = mirror_update(repo, url, shown)) < 0)
		goto out;
	*path_out = path;
	path = NULL; /* the caller owns it now */
out:
	git_repository_free(repo);
	if (lock_fd >= 0)
		close(lock_fd); /* releases the flock */
	free(lock_path);
	free(path);
	free(shown);
	return error;
}

/*
 * Characters a release name may use. Git allows more ('$', '(', '`',
 * ';', quotes...), but the name goes on to jobs as a parameter, and a
 * "$(reboot)" there is an attack, not a release.
 */
static bool name_char_is_allowed(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("._-/+@", c) != NULL;
}

bool mirror_ref_name_is_valid(const char *name)
{
	const char *rest = name;
	char full[sizeof(TAGS_PREFIX) + NAME_MAX_LEN];
	int valid = 0;

	/* libgit2 reports through its error state, which needs init first. */
	mirror_global_init();
	if (name[0] == '\0')
		return true;
	if (strncmp(name, TAGS_PREFIX, strlen(TAGS_PREFIX)) == 0)
		rest = name + strlen(TAGS_PREFIX);
	else if (strncmp(name, HEADS_PREFIX, strlen(HEADS_PREFIX)) == 0)
		rest = name + strlen(HEADS_PREFIX);
	else if (strncmp(name, "refs/", 5) == 0)
		return false; /* pull requests, remotes: not a release */
	if (rest[0] == '\0' || strlen(rest) > NAME_MAX_LEN)
		return false;
	/*
	 * A leading '-' would read as an option to any git command, and a
	 * lone "@" means HEAD to git, which is not what the user meant.
	 */
	if (rest[0] == '-' || strcmp(rest, "@") == 0)
		return false;
	for (const char *p = rest; *p; p++)
		if (!name_char_is_allowed(*p))
			return false;
	/* libgit2 does the rest: "..", "@{", ".lock", "//", trailing '/'. */
	snprintf(full, sizeof(full), TAGS_PREFIX "%s", rest);
	if (git_reference_name_is_valid(&valid, full) < 0) {
		git_error_clear();
		return false;
	}
	return valid != 0;
}

void mirror_resolution_dispose(struct mirror_resolution *res)
{
	if (!res)
		return;
	free(res->ref);
	free(res->version);
	free(res->note);
	memset(res, 0, sizeof(*res));
}

/* Levenshtein distance between a and b, or > limit when it exceeds limit. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb,
			    size_t limit)
{
	size_t row[NAME_MAX_LEN + 2];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best;

		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		/* Every later row is at least this row's minimum. */
		if (best > limit)
			return limit + 1;
	}
	return row[lb];
}

struct nearest {
	const char *want;  /* the short name asked for */
	size_t want_len;
	const char *prefix; /* "refs/tags/" or "refs/heads/" */
	size_t count;
	struct {
		char *name;
		size_t dist;
	} best[NEAREST_MAX];
};

/* Does (dist, name) sort before entry i of n? */
static bool nearest_before(const struct nearest *n, size_t i, size_t dist,
			   const char *name)
{
	if (dist != n->best[i].dist)
		return dist < n->best[i].dist;
	return strcmp(name, n->best[i].name) < 0;
}

static int nearest_consider(const char *refname, void *payload)
{
	struct nearest *n = payload;
	const char *name = refname + strlen(n->prefix);
	size_t len = strlen(name), limit, dist, pos;

	if (len > NAME_MAX_LEN)
		return 0;
	/*
	 * Once the list is full, only a name at most as far as the worst
	 * kept one can enter; the length difference alone bounds the
	 * distance from below, which skips most of 10 000 tags cheaply.
	 */
	limit = n->count == NEAREST_MAX ? n->best[NEAREST_MAX - 1].dist : SIZE_MAX - 1;
	if ((len > n->want_len ? len - n->want_len : n->want_len - len) > limit)
		return 0;
	dist = edit_distance(n->want, n->want_len, name, len, limit);
	if (dist > limit)
		return 0;
	pos = n->count;
	while (pos > 0 && nearest_before(n, pos - 1, dist, name))
		pos--;
	if (pos >= NEAREST_MAX)
		return 0;
	if (n->count == NEAREST_MAX)
		free(n->best[NEAREST_MAX - 1].name);
	else
		n->count++;
	memmove(&n->best[pos + 1], &n->best[pos],
		(n->count - 1 - pos) * sizeof(n->best[0]));
	n->best[pos].name = xstrdup(name);
	n->best[pos].dist = dist;
	return 0;
}

/*
 * Write the DA_ENOTFOUND message for name: what was looked for, where,
 * and the nearest existing names under prefix.
 */
static int not_found(git_repository *repo, const char *what, const char *name,
		     const char *prefix, const char *shown)
{
	struct nearest n = { 0 };
	struct buf msg;
	char *glob = xasprintf("%s*", prefix);
	const char *kind = strcmp(prefix, TAGS_PREFIX) == 0 ? "tags" : "branches";

	n.want = name;
	n.want_len = strlen(name);
	n.prefix = prefix;
	if (git_reference_foreach_glob(repo, glob, nearest_consider, &n) < 0)
		git_error_clear(); /* the suggestions are a courtesy */
	buf_init(&msg, 4096);
	buf_printf(&msg, "%s '%s' not found in %s", what, name, shown);
	for (size_t i = 0; i < n.count; i++) {
		if (i == 0)
			buf_printf(&msg, "; nearest %s: ", kind);
		else
			buf_puts(&msg, ", ");
		buf_puts(&msg, n.best[i].name);
		free(n.best[i].name);
	}
	if (n.count == 0)
		buf_printf(&msg, "; it has no %s", kind);
	error_set("%s", buf_cstr(&msg));
	buf_dispose(&msg);
	free(glob);
	return DA_ENOTFOUND;
}

static const char *object_type_name(git_object_t type)
{
	const char *s = git_object_type2string(type);

	return s && *s ? s : "unknown object";
}

/*
 * The commit ref_name (a full ref) ends at, following tags of tags.
 * GIT_ENOTFOUND (no message) when the ref does not exist.
 */
static int peel_ref(git_oid *commit_out, bool *annotated_out, git_repository *repo,
		    const char *ref_name, const char *shown)
{
	git_reference *ref = NULL, *resolved = NULL;
	git_object *obj = NULL, *next = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int error = 0, rc;

	*annotated_out = false;
	rc = git_reference_lookup(&ref, repo, ref_name);
	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		error = GIT_ENOTFOUND;
		goto out;
	}
	/* A symbolic ref (refs/heads/HEAD -> ...) resolves to its target. */
	if (rc < 0 || git_reference_resolve(&resolved, ref) < 0 ||
	    git_object_lookup(&obj, repo, git_reference_target(resolved),
			      GIT_OBJECT_ANY) < 0) {
		error_set("cannot read %s in %s: %s", ref_name, shown, git_message());
		error = DA_ERROR;
		goto out;
	}
	for (int depth = 0; git_object_type(obj) == GIT_OBJECT_TAG; depth++) {
		*annotated_out = true;
		if (depth == PEEL_MAX) {
			error_set("%s in %s is nested more than %d tags deep",
				  ref_name, shown, PEEL_MAX);
			error = DA_EINVALID;
			goto out;
		}
		if (git_tag_target(&next, (git_tag *)obj) < 0) {
			error_set("cannot peel %s in %s: %s", ref_name, shown,
				  git_message());
			error = DA_ERROR;
			goto out;
		}
		git_object_free(obj);
		obj = next;
		next = NULL;
	}
	if (git_object_type(obj) != GIT_OBJECT_COMMIT) {
		git_oid_tostr(hex, SHORT_HEX + 1, git_object_id(obj));
		error_set("%s in %s points to a %s (%s), not a commit",
			  ref_name, shown, object_type_name(git_object_type(obj)), hex);
		error = DA_EINVALID;
		goto out;
	}
	git_oid_cpy(commit_out, git_object_id(obj));
out:
	git_object_free(obj);
	git_reference_free(resolved);
	git_reference_free(ref);
	return error;
}

/* "" -> the mirror's HEAD branch, version "<branch>_<short hash>". */
static int resolve_head(struct mirror_resolution *out, git_repository *repo,
			const char *shown)
{
	git_reference *head = NULL;
	const char *target;
	git_oid oid;
	bool annotated;
	char hex[GIT_OID_HEXSZ + 1];
	int error = 0;

	if (git_reference_lookup(&head, repo, "HEAD") < 0 ||
	    git_reference_type(head) != GIT_REFERENCE_SYMBOLIC ||
	    strncmp((target = git_reference_symbolic_target(head)), HEADS_PREFIX,
		    strlen(HEADS_PREFIX)) != 0) {
		git_error_clear();
		error_set("cannot tell the default branch of %s", shown);
		error = DA_ENOTFOUND;
		goto out;
	}
	error = peel_ref(&oid, &annotated, repo, target, shown);
	if (error == GIT_ENOTFOUND) {
		error_set("the default branch '%s' of %s does not exist",
			  target + strlen(HEADS_PREFIX), shown);
		error = DA_ENOTFOUND;
	}
	if (error < 0)
		goto out;
	git_oid_tostr(out->commit, sizeof(out->commit), &oid);
	git_oid_tostr(hex, SHORT_HEX + 1, &oid);
	out->ref = xstrdup(target);
	out->version = xasprintf("%s_%s", target + strlen(HEADS_PREFIX), hex);
out:
	git_reference_free(head);
	return error;
}

/* A bare name: the tag if it exists, else the branch. */
static int resolve_bare(struct mirror_resolution *out, git_repository *repo,
			const char *name, const char *shown)
{
	char *tag_ref = xasprintf(TAGS_PREFIX "%s", name);
	char *head_ref = xasprintf(HEADS_PREFIX "%s", name);
	git_oid tag_oid, head_oid;
	bool tag_annotated, head_annotated;
	int tag_rc, head_rc, error = 0;

	tag_rc = peel_ref(&tag_oid, &tag_annotated, repo, tag_ref, shown);
	if (tag_rc < 0 && tag_rc != GIT_ENOTFOUND) {
		error = tag_rc;
		goto out;
	}
	head_rc = peel_ref(&head_oid, &head_annotated, repo, head_ref, shown);
	if (head_rc < 0 && head_rc != GIT_ENOTFOUND) {
		/* A broken branch must not hide a good tag. */
		if (tag_rc == 0) {
			log_warn("ignoring branch %s: %s", head_ref, error_last());
			error_clear();
			head_rc = GIT_ENOTFOUND;
		} else {
			error = head_rc;
			goto out;
		}
	}
	if (tag_rc == GIT_ENOTFOUND && head_rc == GIT_ENOTFOUND) {
		error = not_found(repo, "tag or branch", name, TAGS_PREFIX, shown);
		goto out;
	}
	if (tag_rc == 0) {
		git_oid_tostr(out->commit, sizeof(out->commit), &tag_oid);
		out->ref = tag_ref;
		tag_ref = NULL; /* out owns it now */
		out->annotated = tag_annotated;
		/* Same commit: nothing to warn about, the choice is moot. */
		if (head_rc == 0 && !git_oid_equal(&tag_oid, &head_oid)) {
			char th[SHORT_HEX + 1], hh[SHORT_HEX + 1];

			git_oid_tostr(th, sizeof(th), &tag_oid);
			git_oid_tostr(hh, sizeof(hh), &head_oid);
			out->note = xasprintf("'%s' is both a tag (%s) and a branch "
					      "(%s); using the tag", name, th, hh);
		}
	} else {
		git_oid_tostr(out->commit, sizeof(out->commit), &head_oid);
		out->ref = head_ref;
		head_ref = NULL; /* out owns it now */
	}
	out->version = xstrdup(name);
out:
	free(tag_ref);
	free(head_ref);
	return error;
}

/* "refs/tags/X" or "refs/heads/X": that ref only. */
static int resolve_full(struct mirror_resolution *out, git_repository *repo,
			const char *name, const char *shown)
{
	bool is_tag = strncmp(name, TAGS_PREFIX, strlen(TAGS_PREFIX)) == 0;
	const char *prefix = is_tag ? TAGS_PREFIX : HEADS_PREFIX;
	const char *short_name = name + strlen(prefix);
	git_oid oid;
	bool annotated;
	int error;

	error = peel_ref(&oid, &annotated, repo, name, shown);
	if (error == GIT_ENOTFOUND)
		return not_found(repo, is_tag ? "tag" : "branch", short_name,
				 prefix, shown);
	if (error < 0)
		return error;
	git_oid_tostr(out->commit, sizeof(out->commit), &oid);
	out->ref = xstrdup(name);
	out->version = xstrdup(short_name);
	out->annotated = annotated;
	return 0;
}

int mirror_resolve(struct mirror_resolution *out, const char *mirror_path,
		   const char *url, const char *name)
{
	git_repository *repo = NULL;
	char *shown = url_display(url);
	int error;

	memset(out, 0, sizeof(*out));
	/* Before anything touches the disk: the name comes from a user. */
	if (!mirror_ref_name_is_valid(name)) {
		error_set("'%s' is not a valid git ref name (repository %s)", name, shown);
		error = DA_EINVALID;
		goto out;
	}
	mirror_global_init();
	if (git_repository_open_bare(&repo, mirror_path) < 0) {
		error_set("cannot open the mirror of %s (%s): %s", shown,
			  mirror_path, git_message());
		error = DA_ERROR;
		goto out;
	}
	if (name[0] == '\0')
		error = resolve_head(out, repo, shown);
	else if (strncmp(name, "refs/", 5) == 0)
		error = resolve_full(out, repo, name, shown);
	else
		error = resolve_bare(out, repo, name, shown);
out:
	if (error < 0)
		mirror_resolution_dispose(out);
	git_repository_free(repo);
	free(shown);
	return error;
}

/* 0 when dir does not exist (it is created) or is an empty directory. */
static int prepare_dest(const char *dir)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int error = 0;

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT) {
			error_set_errno("cannot check out into %s", dir);
			return DA_ERROR;
		}
		return fs_mkdir_p(dir, 0755);
	}
	if (!S_ISDIR(st.st_mode)) {
		error_set("cannot check out into %s: it exists and is not a directory", dir);
		return DA_EINVALID;
	}
	if (!(d = opendir(dir))) {
		error_set_errno("cannot check out into %s", dir);
		return DA_ERROR;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		error_set("cannot check out into %s: the directory is not empty", dir);
		error = DA_EINVALID;
		break;
	}
	closedir(d);
	return error;
}

int mirror_checkout(const char *mirror_path, const char *commit, const char *dest_dir)
{
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_index *index = NULL;
	git_checkout_options co;
	git_oid oid;
	int error = 0;

	if (strlen(commit) != GIT_OID_HEXSZ || git_oid_fromstr(&oid, commit) < 0) {
		git_error_clear();
		error_set("'%s' is not a commit id", commit);
		return DA_EINVALID;
	}
	if ((error = prepare_dest(dest_dir)) < 0)
		return error;
	mirror_global_init();
	if (git_repository_open_bare(&repo, mirror_path) < 0 ||
	    git_commit_lookup(&c, repo, &oid) < 0 ||
	    git_commit_tree(&tree, c) < 0 ||
	    /*
	     * A fresh in-memory index: the mirror's own index file is never
	     * read or written, so parallel checkouts of one mirror do not
	     * race on it, and the empty baseline makes every file "new".
	     */
	    git_index_new(&index) < 0 ||
	    git_repository_set_index(repo, index) < 0)
		goto git_fail;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	/* NO_REFRESH: an in-memory index has no file to reread. */
	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX |
			      GIT_CHECKOUT_NO_REFRESH;
	co.target_directory = dest_dir;
	co.baseline_index = index;
	if (git_checkout_tree(repo, (const git_object *)tree, &co) < 0)
		goto git_fail;
	goto out;
git_fail:
	error_set("cannot check out %.*s from %s into %s: %s", SHORT_HEX, commit,
		  mirror_path, dest_dir, git_message());
	error = DA_ERROR;
out:
	git_index_free(index);
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	return error;
}
