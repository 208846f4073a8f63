/* artifact.c - store and fetch Build outputs with their SHA-256. */
#include "artifact.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "xmalloc.h"

static char *encode_segment(const char *s, const char *from)
{
	struct buf b;

	buf_init(&b, 4096);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
			     (*p == '.' && p != (const unsigned char *)s);
		if (from && *p == '/')
			buf_puts(&b, from);
		else if (plain)
			buf_putc(&b, (char)*p);
		else
			buf_printf(&b, "%%%02X", *p);
	}
	return buf_detach(&b);
}

static char *artifact_dir(const char *state_dir, const char *operation, const char *version)
{
	char *op = encode_segment(operation, "__");
	char *ver = encode_segment(version, NULL);
	char *dir = xasprintf("%s/artifacts/%s/%s", state_dir, op, ver);

	free(op);
	free(ver);
	return dir;
}

static bool name_is_plain(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/');
}

/* Copy src to dst_fd while hashing; hex gets the digest. */
static int copy_hashing(int src_fd, const char *src, int dst_fd, const char *dst,
			char hex[ARTIFACT_SHA256_HEX])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char digest[EVP_MAX_MD_SIZE], chunk[65536];
	unsigned int dlen = 0;
	int rc = DA_ERROR;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		error_set("cannot start SHA-256");
		goto out;
	}
	for (;;) {
		ssize_t n = read(src_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set_errno("cannot read %s", src);
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, chunk, (size_t)n);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dst_fd, chunk + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				error_set_errno("cannot write %s", dst);
				goto out;
			}
			off += w;
		}
	}
	EVP_DigestFinal_ex(ctx, digest, &dlen);
	for (unsigned int i = 0; i < dlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Write src to path atomically, hashing it. */
static int copy_atomic(const char *src, const char *path, char hex[ARTIFACT_SHA256_HEX])
{
	char *tmp;
	int in, fd;
	bool ok;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		error_set_errno("cannot open %s", src);
		return DA_ERROR;
	}
	fd = fs_atomic_begin(&tmp, path, 0644);
	if (fd < 0) {
		close(in);
		return DA_ERROR;
	}
	ok = copy_hashing(in, src, fd, tmp, hex) == 0;
	close(in);
	return fs_atomic_commit(fd, tmp, path, ok, true);
}

static int write_text_atomic(const char *path, const char *text)
{
	size_t len = strlen(text);
	char *tmp;
	int fd = fs_atomic_begin(&tmp, path, 0644);
	bool ok;

	if (fd < 0)
		return DA_ERROR;
	ok = write(fd, text, len) == (ssize_t)len;
	if (!ok)
		error_set_errno("cannot write %s", tmp);
	return fs_atomic_commit(fd, tmp, path, ok, true);
}

int artifact_store(char sha_out[ARTIFACT_SHA256_HEX], const char *state_dir,
		   const char *operation, const char *version, const char *name,
		   const char *src)
{
	char *dir = NULL, *path = NULL, *sha_path = NULL, *line = NULL;
	int rc = DA_EINVALID;

	sha_out[0] = '\0';
	if (!name_is_plain(name)) {
		error_set("artifact name '%s' of %s is not a plain file name", name, operation);
		goto out;
	}
	dir = artifact_dir(state_dir, operation, version);
	if ((rc = fs_mkdir_p(dir, 0755)) < 0)
		goto out;
	path = xasprintf("%s/%s", dir, name);
	sha_path = xasprintf("%s.sha256", path);
	if ((rc = copy_atomic(src, path, sha_out)) < 0)
		goto out;
	line = xasprintf("%s  %s\n", sha_out, name);
	rc = write_text_atomic(sha_path, line);
out:
	free(dir);
	free(path);
	free(sha_path);
	free(line);
	return rc;
}

static int read_recorded_sha(char hex[ARTIFACT_SHA256_HEX], const char *sha_path)
{
	char line[256];
	FILE *f = fopen(sha_path, "re");
	size_t n;

	if (!f)
		return DA_ENOTFOUND;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	if (n < 64 || strspn(line, "0123456789abcdef") != 64) {
		error_set("%s is not a SHA-256 record", sha_path);
		return DA_ERROR;
	}
	memcpy(hex, line, 64);
	hex[64] = '\0';
	return 0;
}

int artifact_fetch(char sha_out[ARTIFACT_SHA256_HEX], const char *state_dir,
		   const char *operation, const char *version, const char *name,
		   const char *dest)
{
	char *dir = NULL, *path = NULL, *sha_path = NULL, *dest_copy = NULL;
	char recorded[ARTIFACT_SHA256_HEX];
	int rc = DA_EINVALID;

	sha_out[0] = '\0';
	if (!name_is_plain(name)) {
		error_set("artifact name '%s' of %s is not a plain file name", name, operation);
		goto out;
	}
	dir = artifact_dir(state_dir, operation, version);
	path = xasprintf("%s/%s", dir, name);
	sha_path = xasprintf("%s.sha256", path);
	rc = read_recorded_sha(recorded, sha_path);
	if (rc == DA_ENOTFOUND || (rc == 0 && access(path, R_OK) < 0)) {
		rc = DA_ENOTFOUND;
		error_set("no artifact '%s' of %s for version '%s' on this agent (looked in %s); "
			  "run %s with that version first", name, operation, version, dir, operation);
		goto out;
	}
	if (rc < 0)
		goto out;
	dest_copy = xstrdup(dest);
	if ((rc = fs_mkdir_p(dirname(dest_copy), 0755)) < 0)
		goto out;
	if ((rc = copy_atomic(path, dest, sha_out)) < 0)
		goto out;
	if (strcmp(sha_out, recorded) != 0) {
		unlink(dest);
		error_set("artifact %s is corrupt: its SHA-256 is %s, recorded %s", path,
			  sha_out, recorded);
		rc = DA_ERROR;
		goto out;
	}
out:
	free(dir);
	free(path);
	free(sha_path);
	free(dest_copy);
	return rc;
}
