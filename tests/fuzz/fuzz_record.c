/*
 * fuzz_record.c - the <run> record writer (agent/record.c) against its
 * decoder, which reads a body as Jenkins' ExternalRun does.
 *
 * From the input: a result, a duration, a display name and a description
 * (or none), and log bytes cut into record_log calls with keep-alives in
 * between. What record_parse reads back must be exactly that: the same log
 * bytes, result and duration, and the same texts, except that characters
 * XML cannot carry come back as U+FFFD, as record.h says. Any difference
 * is a log that Jenkins would show differently from what the child printed.
 */
#include <limits.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "fuzz.h"
#include "record.h"
#include "utf8.h"
#include "xmltext.h"

#define TEXT_MAX 256

/* What the decoder must give back for a text: invalid characters as U+FFFD. */
static void expect_text(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		uint32_t cp;
		size_t bad = 1, len = utf8_decode(p, n, &cp, &bad);

		if (len && xml_char_ok(cp)) {
			buf_put(b, p, len);
		} else {
			buf_puts(b, "\xef\xbf\xbd");
			len = len ? len : bad;
		}
		p += len;
		n -= len;
	}
}

/* A C string of up to TEXT_MAX bytes (stops at a NUL), or NULL when the flag says none. */
static char *take_text(struct fuzz_in *in)
{
	const uint8_t *p;
	uint8_t flag = fuzz_u8(in);
	size_t n;
	char *s;

	if (flag & 1)
		return NULL;
	n = fuzz_bytes(in, fuzz_u8(in) % TEXT_MAX, &p);
	s = malloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	enum record_result result = (enum record_result)(fuzz_u8(&in) % 5);
	unsigned long duration = (unsigned long)fuzz_u64(&in);
	char *display = take_text(&in), *description = take_text(&in);
	struct record_writer *w;
	struct record_parsed parsed;
	struct buf body, log, want;

	buf_init(&body, 16 << 20);
	buf_init(&log, 16 << 20);
	buf_init(&want, 16 << 20);
	record_writer_new(&w);
	if (fuzz_u8(&in) & 1)
		FUZZ_CHECK(record_keepalive(w, &body) == 0);
	FUZZ_CHECK(record_open(w, &body) == 0);
	while (in.n > 0) {
		uint8_t op = fuzz_u8(&in);
		const uint8_t *p;
		size_t n;

		if (op % 8 == 0) {
			FUZZ_CHECK(record_keepalive(w, &body) == 0);
			continue;
		}
		n = fuzz_bytes(&in, op, &p);
		FUZZ_CHECK(record_log(w, &body, p, n) == 0);
		buf_put(&log, p, n);
	}
	FUZZ_CHECK(record_close(w, &body, result, duration, display, description) == 0);
	/* Out of order: refused, nothing appended. */
	{
		size_t len = body.len;

		FUZZ_CHECK(record_log(w, &body, "x", 1) == DA_EINVALID);
		FUZZ_CHECK(body.len == len);
	}

	/* Nothing whitespace inside <log>: one would shift every later hex pair. */
	{
		const char *s = strstr(body.ptr, "hexBinary\">"), *e = strstr(body.ptr, "</log>");

		FUZZ_CHECK(s && e && s < e);
		for (const char *c = s; c < e; c++)
			FUZZ_CHECK(*c != ' ' && *c != '\n' && *c != '\r' && *c != '\t');
	}

	FUZZ_CHECK(record_parse(body.ptr, body.len, &parsed) == 0);
	FUZZ_CHECK(parsed.log.len == log.len);
	FUZZ_CHECK(log.len == 0 || memcmp(parsed.log.ptr, log.ptr, log.len) == 0);
	FUZZ_CHECK(parsed.result == result);
	FUZZ_CHECK(parsed.duration_ms == (duration > LLONG_MAX ? LLONG_MAX : (long long)duration));
	if (display) {
		buf_clear(&want);
		expect_text(&want, display);
		FUZZ_CHECK(parsed.display_name && strcmp(parsed.display_name, buf_cstr(&want)) == 0);
	} else {
		FUZZ_CHECK(parsed.display_name == NULL);
	}
	if (description) {
		buf_clear(&want);
		expect_text(&want, description);
		FUZZ_CHECK(parsed.description && strcmp(parsed.description, buf_cstr(&want)) == 0);
	} else {
		FUZZ_CHECK(parsed.description == NULL);
	}

	record_parsed_dispose(&parsed);
	record_writer_free(w);
	buf_dispose(&body);
	buf_dispose(&log);
	buf_dispose(&want);
	free(display);
	free(description);
	error_clear();
	return 0;
}
