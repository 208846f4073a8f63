/*
 * Unit tests for common/redact.c and the places it guards: the spool
 * (common/spool.c), error messages (common/error.c) and the agent's log
 * (common/log.c). The encoded forms are made by other code than the
 * redactor's (libcurl's escaping, jansson's JSON, OpenSSL's base64), so
 * a test fails when the redactor and the real encoders disagree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "redact.h"
#include "spool.h"
#include "tmpdir.h"
#include "xmalloc.h"

#define SECRET "s3cr3t-T0ken/42"

/* ---- helpers ---- */

/* Redact input through one stream, cut at the given offsets; new string. */
static char *redact_split(struct redactor *r, const char *in, size_t len,
			  const size_t *cuts, size_t ncuts)
{
	struct redact_stream *st;
	struct buf out;
	size_t prev = 0;

	buf_init(&out, 1 << 24);
	assert_int_equal(redact_stream_new(&st, r), 0);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		assert_int_equal(redact_stream_write(st, in + prev, end - prev, &out), 0);
		prev = end;
	}
	assert_int_equal(redact_stream_finish(st, &out), 0);
	redact_stream_free(st);
	return buf_detach(&out);
}

static char *redact_whole(struct redactor *r, const char *in)
{
	return redact_split(r, in, strlen(in), NULL, 0);
}

/* "before " form " after", redacted with every cut into two and three writes. */
static void check_form_every_split(struct redactor *r, const char *form)
{
	char *in = xasprintf("before %s after", form);
	size_t len = strlen(in);
	char *whole = redact_whole(r, in);

	assert_string_equal(whole, "before " REDACT_MASK " after");
	for (size_t i = 0; i <= len; i++) {
		char *out = redact_split(r, in, len, &i, 1);

		assert_string_equal(out, whole);
		free(out);
	}
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			size_t cuts[2] = { i, j };
			char *out = redact_split(r, in, len, cuts, 2);

			assert_string_equal(out, whole);
			free(out);
		}
	}
	free(whole);
	free(in);
}

static char *json_form(const char *value, size_t flags)
{
	json_t *j = json_stringn(value, strlen(value));
	char *dumped, *inner;

	assert_non_null(j);
	dumped = json_dumps(j, JSON_ENCODE_ANY | flags);
	assert_non_null(dumped);
	/* Without the quotes: the form as it sits inside a JSON document. */
	inner = xstrndup(dumped + 1, strlen(dumped) - 2);
	free(dumped);
	json_decref(j);
	return inner;
}

static char *url_form(const char *value, bool lower_hex, bool plus_for_space)
{
	char *esc = curl_easy_escape(NULL, value, (int)strlen(value));
	struct buf b;

	assert_non_null(esc);
	buf_init(&b, 1 << 20);
	for (size_t i = 0; esc[i]; i++) {
		if (plus_for_space && strncmp(esc + i, "%20", 3) == 0) {
			buf_putc(&b, '+');
			i += 2;
		} else if (lower_hex && esc[i] == '%') {
			buf_printf(&b, "%%%c%c", esc[i + 1] | 0x20, esc[i + 2] | 0x20);
			i += 2;
		} else {
			buf_putc(&b, esc[i]);
		}
	}
	curl_free(esc);
	return buf_detach(&b);
}

static char *base64_form(const unsigned char *data, size_t len, bool url, bool pad)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

	for (int i = 0; i < n; i++) {
		if (url && out[i] == '+')
			out[i] = '-';
		else if (url && out[i] == '/')
			out[i] = '_';
	}
	while (!pad && n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	return out;
}

static struct redactor *redactor_with(const char *value)
{
	struct redactor *r;

	assert_int_equal(redactor_new(&r), 0);
	assert_int_equal(redact_add_str(r, value), 0);
	return r;
}

/* A seeded generator: the same cases on every run. */
static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

/* ---- the forms ---- */

static void test_redact__raw_value_is_masked(void **state)
{
	struct redactor *r = redactor_with(SECRET);
	char *out;

	(void)state;
	out = redact_whole(r, "token=" SECRET " next " SECRET SECRET "\n");
	assert_string_equal(out, "token=" REDACT_MASK " next " REDACT_MASK "\n");
	free(out);
	out = redact_whole(r, "no secret here, s3cr3t-T0ken/4 is not it\n");
	assert_string_equal(out, "no secret here, s3cr3t-T0ken/4 is not it\n");
	free(out);
	redactor_free(r);
}

static void test_redact__split_at_every_offset_raw(void **state)
{
	struct redactor *r = redactor_with(SECRET);

	(void)state;
	check_form_every_split(r, SECRET);
	redactor_free(r);
}

static void test_redact__url_encoded_forms(void **state)
{
	const char *value = "p@ss w/rd:+&=?%~";
	struct redactor *r = redactor_with(value);
	char *forms[4] = {
		url_form(value, false, false),  /* %2F */
		url_form(value, true, false),   /* %2f */
		url_form(value, false, true),   /* '+' for space */
		url_form(value, true, true),
	};

	(void)state;
	assert_non_null(strstr(forms[0], "%2F"));
	assert_non_null(strstr(forms[1], "%2f"));
	assert_non_null(strchr(forms[2], '+'));
	for (int i = 0; i < 4; i++) {
		check_form_every_split(r, forms[i]);
		free(forms[i]);
	}
	/* Partly encoded, as encodeURI leaves '/' and '@'. */
	check_form_every_split(r, "p@ss%20w/rd%3A%2B%26%3D%3F%25~");
	redactor_free(r);
}

static void test_redact__json_escaped_forms(void **state)
{
	const char *value = "p\"a\\s/s\tw\n\x01<rd> p\xc3\xa4ss \xe2\x82\xac \xf0\x9f\x98\x80";
	struct redactor *r = redactor_with(value);
	size_t flags[] = { 0, JSON_ENSURE_ASCII, JSON_ESCAPE_SLASH,
			   JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH };

	(void)state;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char *form = json_form(value, flags[i]);

		/* jansson really escaped something, so this tests an escaped form. */
		assert_non_null(strchr(form, '\\'));
		check_form_every_split(r, form);
		free(form);
	}
	/* Go's encoding/json writes '<' and '>' as \u003c and \u003e, upper-case hex elsewhere. */
	check_form_every_split(r, "p\\\"a\\\\s/s\\tw\\n\\u0001\\u003crd\\u003E p\\u00E4ss "
			       "\\u20ac \\uD83D\\uDE00");
	redactor_free(r);
}

static void test_redact__base64_whole_forms(void **state)
{
	const char *values[] = { "abcd", "abcde", "abcdef", SECRET, "\xff\xfe\xfd\xfc?>" };

	(void)state;
	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		struct redactor *r = redactor_with(values[v]);

		for (int url = 0; url <= 1; url++) {
			for (int pad = 0; pad <= 1; pad++) {
				char *form = base64_form((const unsigned char *)values[v],
							 strlen(values[v]), url, pad);

				check_form_every_split(r, form);
				free(form);
			}
		}
		redactor_free(r);
	}
}

/*
 * The value inside a longer base64 stream, at each alignment: whatever
 * stays visible around the mask is no more than the characters that carry
 * bits of the neighbours (the stable part of V is gone).
 */
static void test_redact__base64_inside_a_stream_every_alignment(void **state)
{
	const char *values[] = { "abcd", "hunter22", SECRET };

	(void)state;
	rng_state = 7;
	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		size_t vlen = strlen(values[v]);
		struct redactor *r = redactor_with(values[v]);

		for (size_t before = 0; before < 9; before++) {
			for (size_t after = 0; after < 4; after++) {
				unsigned char data[64];
				char *enc, *out, *mask;
				size_t head, tail;

				for (size_t i = 0; i < before; i++)
					data[i] = (unsigned char)rng();
				memcpy(data + before, values[v], vlen);
				for (size_t i = 0; i < after; i++)
					data[before + vlen + i] = (unsigned char)rng();
				for (int url = 0; url <= 1; url++) {
					enc = base64_form(data, before + vlen + after, url, true);
					out = redact_whole(r, enc);
					mask = strstr(out, REDACT_MASK);
					assert_non_null(mask);
					assert_null(strstr(mask + 1, REDACT_MASK));
					head = (size_t)(mask - out);
					tail = strlen(mask + strlen(REDACT_MASK));
					/* Characters that hold a bit of the neighbours, at most. */
					assert_true(head <= (8 * before + 5) / 6);
					assert_true(tail <= strlen(enc) - (8 * (before + vlen)) / 6);
					free(out);
					free(enc);
				}
			}
		}
		redactor_free(r);
	}
}

static void test_redact__basic_auth_header(void **state)
{
	struct redactor *r = redactor_with("11e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7");
	char *cred = base64_form((const unsigned char *)"dataops:11e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7",
				 strlen("dataops:11e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7"), false, true);
	char *line = xasprintf("Authorization: Basic %s\r\n", cred);
	char *out = redact_whole(r, line);

	(void)state;
	/* "dataops:" is 8 bytes: its first 10 characters stay, the token's part goes. */
	assert_non_null(strstr(out, REDACT_MASK));
	assert_true(strstr(out, REDACT_MASK) - out <= (ptrdiff_t)strlen("Authorization: Basic ") + 11);
	assert_true(strlen(out) < strlen(line) - 30);
	free(out);
	free(line);
	free(cred);
	redactor_free(r);
}

/* Base64 forms are matched in their URL-encoded and JSON-escaped forms too. */
static void test_redact__base64_then_escaped(void **state)
{
	/* base64 of this holds '+' and '/' */
	const unsigned char value[] = { 0xfb, 0xef, 0xff, 0xfb, 0xef, 0xff, 0 };
	struct redactor *r = redactor_with((const char *)value);
	char *b64 = base64_form(value, 6, false, true);
	char *url = url_form(b64, true, false);
	char *json = json_form(b64, JSON_ESCAPE_SLASH);

	(void)state;
	assert_non_null(strstr(url, "%2f"));
	assert_non_null(strstr(json, "\\/"));
	check_form_every_split(r, url);
	check_form_every_split(r, json);
	free(b64);
	free(url);
	free(json);
	redactor_free(r);
}

static void test_redact__bytes_that_are_not_utf8(void **state)
{
	const char value[] = "ab\xff\xc3(cd\x80";
	struct redactor *r = redactor_with(value);
	char *url = url_form(value, false, false);

	(void)state;
	check_form_every_split(r, value);
	check_form_every_split(r, url);
	free(url);
	redactor_free(r);
}

/* ---- several values ---- */

static void test_redact__overlapping_and_adjacent_values_merge(void **state)
{
	struct redactor *r;
	char *out;

	(void)state;
	redactor_new(&r);
	redact_add_str(r, "abcdef12");
	redact_add_str(r, "ef12ghij");
	redact_add_str(r, "XYZW1234");
	/* Overlapping: one mask over both, no tail of the second left. */
	out = redact_whole(r, "xx abcdef12ghij yy");
	assert_string_equal(out, "xx " REDACT_MASK " yy");
	free(out);
	/* Adjacent: one mask, so not even their number shows. */
	out = redact_whole(r, "xx abcdef12XYZW1234 yy");
	assert_string_equal(out, "xx " REDACT_MASK " yy");
	free(out);
	check_form_every_split(r, "abcdef12ghijXYZW1234");
	check_form_every_split(r, "XYZW1234abcdef12");
	redactor_free(r);
}

static void test_redact__value_that_is_a_prefix_of_another(void **state)
{
	struct redactor *r;
	char *out;

	(void)state;
	redactor_new(&r);
	redact_add_str(r, "passw0rd");
	redact_add_str(r, "passw0rd-long-one");
	check_form_every_split(r, "passw0rd-long-one");
	check_form_every_split(r, "passw0rd");
	/* The shorter one alone, followed by what starts the longer one. */
	out = redact_whole(r, "passw0rd-long-two");
	assert_string_equal(out, REDACT_MASK "-long-two");
	free(out);
	/* And the other way round: the longer added first. */
	redactor_free(r);
	redactor_new(&r);
	redact_add_str(r, "passw0rd-long-one");
	redact_add_str(r, "passw0rd");
	check_form_every_split(r, "passw0rd-long-one");
	check_form_every_split(r, "passw0rd");
	redactor_free(r);
}

/*
 * Random text over a small alphabet, random values over the same one, random
 * cuts: the result equals a naive model (mask the union of every occurrence)
 * and does not depend on the cuts. The alphabet "ab c" keeps base64 forms
 * (which need other letters) out of the text, so the model is exact.
 */
static char *naive_redact(const char *in, char **values, size_t nvalues)
{
	size_t len = strlen(in);
	bool *cov = xcalloc(len + 1, 1);
	struct buf out;

	for (size_t v = 0; v < nvalues; v++) {
		size_t vl = strlen(values[v]);

		for (size_t i = 0; i + vl <= len; i++)
			if (memcmp(in + i, values[v], vl) == 0)
				memset(cov + i, 1, vl);
	}
	buf_init(&out, 1 << 20);
	for (size_t i = 0; i < len; i++) {
		if (!cov[i])
			buf_putc(&out, in[i]);
		else if (i == 0 || !cov[i - 1])
			buf_puts(&out, REDACT_MASK);
	}
	free(cov);
	return buf_detach(&out);
}

static void test_redact__random_text_matches_a_naive_model(void **state)
{
	static const char abc[] = "ab c";

	(void)state;
	rng_state = 42;
	for (int round = 0; round < 300; round++) {
		struct redactor *r;
		char *values[4], text[200], *want, *got;
		size_t nvalues = 1 + rng() % 4, len = rng() % sizeof(text), cuts[3];

		redactor_new(&r);
		for (size_t v = 0; v < nvalues; v++) {
			size_t vl = REDACT_MIN_LEN + rng() % 5;

			values[v] = xmalloc(vl + 1);
			for (size_t i = 0; i < vl; i++)
				values[v][i] = abc[rng() % 3]; /* no space: a value of blanks is odd */
			values[v][vl] = '\0';
			assert_int_equal(redact_add_str(r, values[v]), 0);
		}
		for (size_t i = 0; i < len; i++)
			text[i] = abc[rng() % 4];
		text[len] = '\0';
		/* Plant the values so that most rounds have matches. */
		for (size_t v = 0; v < nvalues && len > 10; v++) {
			size_t at = rng() % (len - strlen(values[v]));

			memcpy(text + at, values[v], strlen(values[v]));
		}
		for (int i = 0; i < 3; i++)
			cuts[i] = len ? rng() % (len + 1) : 0;
		if (cuts[0] > cuts[1]) { size_t t = cuts[0]; cuts[0] = cuts[1]; cuts[1] = t; }
		if (cuts[1] > cuts[2]) { size_t t = cuts[1]; cuts[1] = cuts[2]; cuts[2] = t; }
		if (cuts[0] > cuts[1]) { size_t t = cuts[0]; cuts[0] = cuts[1]; cuts[1] = t; }
		want = naive_redact(text, values, nvalues);
		got = redact_split(r, text, len, cuts, 3);
		assert_string_equal(got, want);
		for (size_t v = 0; v < nvalues; v++) {
			assert_null(strstr(got, values[v]));
			free(values[v]);
		}
		free(want);
		free(got);
		redactor_free(r);
	}
}

/* ---- holding back ---- */

static void test_redact__holds_back_only_a_possible_start(void **state)
{
	struct redactor *r = redactor_with(SECRET);
	struct redact_stream *st;
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	redact_stream_new(&st, r);
	/* Ordinary text goes through at once, nothing held. */
	assert_int_equal(redact_stream_write(st, "hello world, s3 is a bucket\n", 28, &out), 0);
	assert_string_equal(buf_cstr(&out), "hello world, s3 is a bucket\n");
	assert_int_equal(redact_stream_held(st), 0);
	/* Ending on what may start the secret: only that is held. */
	buf_clear(&out);
	assert_int_equal(redact_stream_write(st, "next: s3cr3t", 12, &out), 0);
	assert_string_equal(buf_cstr(&out), "next: ");
	assert_int_equal(redact_stream_held(st), 6);
	/* It was not the secret: released by the next write, in order. */
	assert_int_equal(redact_stream_write(st, "ary\n", 4, &out), 0);
	assert_string_equal(buf_cstr(&out), "next: s3cr3tary\n");
	assert_int_equal(redact_stream_held(st), 0);
	/* Held at the end of input: finish releases it, nothing is lost. */
	buf_clear(&out);
	assert_int_equal(redact_stream_write(st, "tail s3cr3t-T0", 14, &out), 0);
	assert_string_equal(buf_cstr(&out), "tail ");
	assert_int_equal(redact_stream_finish(st, &out), 0);
	assert_string_equal(buf_cstr(&out), "tail s3cr3t-T0");
	assert_int_equal(redact_stream_held(st), 0);
	/* A started escape is a possible start too ("%40" is '@'), and is released as well. */
	assert_int_equal(redact_add_str(r, "@dmin-pass"), 0);
	buf_clear(&out);
	assert_int_equal(redact_stream_write(st, "mail %4", 7, &out), 0);
	assert_string_equal(buf_cstr(&out), "mail ");
	assert_int_equal(redact_stream_finish(st, &out), 0);
	assert_string_equal(buf_cstr(&out), "mail %4");
	buf_clear(&out);
	assert_int_equal(redact_stream_write(st, "mail %40dmin-pass.", 18, &out), 0);
	assert_string_equal(buf_cstr(&out), "mail " REDACT_MASK ".");
	redact_stream_free(st);
	buf_dispose(&out);
	redactor_free(r);
}

/*
 * A long run where some thread is always alive (every 'a' may start
 * "aaaaaaab"): bytes are released while the write goes on, not kept to
 * its end, and the result is the same as for any other cut.
 */
static void test_redact__long_live_run_is_released_as_it_goes(void **state)
{
	struct redactor *r = redactor_with("aaaaaaab");
	size_t len = 20000;
	char *in = xmalloc(len + 2), *out, *want;
	size_t cuts[2] = { 4095, 12345 };

	(void)state;
	memset(in, 'a', len);
	in[len] = 'b';
	in[len + 1] = '\0';
	want = xmalloc(len);
	memset(want, 'a', len - 7);
	memcpy(want + len - 7, REDACT_MASK, strlen(REDACT_MASK) + 1);
	out = redact_whole(r, in);
	assert_string_equal(out, want);
	free(out);
	out = redact_split(r, in, len + 1, cuts, 2);
	assert_string_equal(out, want);
	free(out);
	/* Without the 'b' nothing is masked, and nothing was lost on the way. */
	in[len] = '\0';
	out = redact_whole(r, in);
	assert_string_equal(out, in);
	free(out);
	free(want);
	free(in);
	redactor_free(r);
}

static void test_redact__output_room_is_checked_first(void **state)
{
	struct redactor *r = redactor_with(SECRET);
	struct redact_stream *st;
	struct buf out;

	(void)state;
	buf_init(&out, 8);
	redact_stream_new(&st, r);
	assert_int_equal(redact_stream_write(st, "0123456789", 10, &out), DA_ETOOBIG);
	assert_int_equal(out.len, 0);
	assert_int_equal(redact_stream_write(st, "01234567", 8, &out), 0);
	assert_string_equal(buf_cstr(&out), "01234567");
	redact_stream_free(st);
	buf_dispose(&out);
	redactor_free(r);
}

/* ---- values ---- */

static void test_redact__short_long_and_repeated_values(void **state)
{
	struct redactor *r;
	char *big = xmalloc(REDACT_MAX_LEN + 2), *out;

	(void)state;
	redactor_new(&r);
	assert_int_equal(redact_add_str(r, "abc"), REDACT_SKIPPED);
	assert_int_equal(redact_add_str(r, ""), REDACT_SKIPPED);
	assert_int_equal(redact_count(r), 0);
	memset(big, 'k', REDACT_MAX_LEN + 1);
	big[REDACT_MAX_LEN + 1] = '\0';
	assert_int_equal(redact_add_str(r, big), DA_ETOOBIG);
	assert_null(strstr(error_last(), "kkkk"));
	assert_non_null(strstr(error_last(), "4097"));
	big[REDACT_MAX_LEN] = '\0';
	assert_int_equal(redact_add_str(r, big), 0);
	assert_int_equal(redact_add_str(r, "abcd"), 0);
	assert_int_equal(redact_add_str(r, "abcd"), 0);
	assert_int_equal(redact_count(r), 2);
	out = redact_whole(r, "abc abcd");
	assert_string_equal(out, "abc " REDACT_MASK);
	free(out);
	free(big);
	redactor_free(r);
}

static void test_redact__multi_line_value_line_by_line(void **state)
{
	const char *key = "-----BEGIN KEY-----\n"
			  "MIIEowIBAAKCAQEAvX3nq\n"
			  "Zm9vYmFyYmF6cXV4cXV1\n"
			  "-----END KEY-----";
	struct redactor *r = redactor_with(key);
	char *out;

	(void)state;
	check_form_every_split(r, key);
	/* CRLF line ends and indentation, as a YAML dump prints a key. */
	out = redact_whole(r, "key: |\r\n    MIIEowIBAAKCAQEAvX3nq\r\n    Zm9vYmFyYmF6cXV4cXV1\r\n");
	assert_null(strstr(out, "MIIEowIBAAKCAQEAvX3nq"));
	assert_null(strstr(out, "Zm9vYmFyYmF6cXV4cXV1"));
	assert_non_null(strstr(out, "key: |\r\n    " REDACT_MASK "\r\n"));
	free(out);
	redactor_free(r);
}

static void test_redact__empty_redactor_passes_everything(void **state)
{
	struct redactor *r;
	char *out;

	(void)state;
	redactor_new(&r);
	out = redact_whole(r, "any text %2F \\u0041 dGVzdA==");
	assert_string_equal(out, "any text %2F \\u0041 dGVzdA==");
	free(out);
	redact_set_global(r);
	assert_false(redact_global_active());
	redact_add_str(r, SECRET);
	assert_true(redact_global_active());
	redact_set_global(NULL);
	assert_false(redact_global_active());
	redactor_free(r);
}

/* Values added while other threads redact through the same redactor. */
struct adder {
	struct redactor *r;
	int rounds;
};

static void *add_values(void *arg)
{
	struct adder *a = arg;

	for (int i = 0; i < a->rounds; i++) {
		char v[32];

		snprintf(v, sizeof(v), "value-%04d-x", i);
		redact_add_str(a->r, v);
	}
	return NULL;
}

static void test_redact__values_added_while_in_use(void **state)
{
	struct redactor *r = redactor_with(SECRET);
	struct adder a = { r, 200 };
	struct redact_stream *st;
	struct buf out;
	pthread_t t;

	(void)state;
	buf_init(&out, 1 << 24);
	redact_stream_new(&st, r);
	pthread_create(&t, NULL, add_values, &a);
	for (int i = 0; i < 2000; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "%d " SECRET " value-%04d-x\n", i, i % 200);

		assert_int_equal(redact_stream_write(st, line, (size_t)n, &out), 0);
	}
	pthread_join(t, NULL);
	assert_int_equal(redact_stream_finish(st, &out), 0);
	assert_null(strstr(buf_cstr(&out), SECRET));
	assert_int_equal(redact_count(r), 201);
	/* Once added, every later line is masked. */
	buf_clear(&out);
	redact_stream_write(st, "value-0199-x\n", 13, &out);
	redact_stream_finish(st, &out);
	assert_string_equal(buf_cstr(&out), REDACT_MASK "\n");
	redact_stream_free(st);
	buf_dispose(&out);
	redactor_free(r);
}

/* ---- the spool ---- */

struct follower {
	struct spool *s;
	struct buf got;
};

static void *follow(void *arg)
{
	struct follower *f = arg;
	char chunk[7]; /* small reads: many chances to see a half-written secret */

	for (;;) {
		ssize_t n = spool_read_at(f->s, f->got.len, chunk, sizeof(chunk), 2000);

		if (n == DA_ETIMEOUT)
			continue;
		if (n <= 0)
			break;
		buf_put(&f->got, chunk, (size_t)n);
	}
	return NULL;
}

static void test_redact__spool_readers_never_see_a_secret(void **state)
{
	char *path = xasprintf("%s/run.log", tmpdir);
	struct redactor *r = redactor_with(SECRET);
	struct follower f;
	const char *line = "line with " SECRET " in it\n";
	size_t len = strlen(line);
	struct buf want;
	pthread_t t;
	char *file;

	(void)state;
	buf_init(&f.got, 1 << 24);
	buf_init(&want, 1 << 24);
	assert_int_equal(spool_open(&f.s, path), 0);
	assert_int_equal(spool_set_redactor(f.s, r), 0);
	pthread_create(&t, NULL, follow, &f);
	/* The secret split at every offset across two writes. */
	for (size_t cut = 0; cut <= len; cut++) {
		assert_int_equal(spool_write(f.s, line, cut), 0);
		assert_int_equal(spool_write(f.s, line + cut, len - cut), 0);
		buf_puts(&want, "line with " REDACT_MASK " in it\n");
	}
	/* Held back until the end, then released by spool_finish. */
	assert_int_equal(spool_printf(f.s, "last %s", "s3cr3t"), 0);
	buf_puts(&want, "last s3cr3t");
	assert_int_equal(spool_size(f.s), want.len - 6);
	assert_int_equal(spool_finish(f.s), 0);
	pthread_join(t, NULL);
	assert_int_equal(spool_size(f.s), want.len);
	assert_string_equal(buf_cstr(&f.got), buf_cstr(&want));
	file = tmpdir_read_file(path);
	assert_non_null(file);
	assert_string_equal(file, buf_cstr(&want));
	assert_null(strstr(file, SECRET));
	free(file);
	spool_free(f.s);
	buf_dispose(&f.got);
	buf_dispose(&want);
	redactor_free(r);
	free(path);
}

static void test_redact__spool_big_write_secret_across_chunks(void **state)
{
	char *path = xasprintf("%s/big.log", tmpdir);
	struct redactor *r = redactor_with(SECRET);
	size_t len = 3 * 65536 + 100, at = 65536 - 5;
	char *data = xmalloc(len), *file;
	struct spool *s;

	(void)state;
	memset(data, 'x', len);
	memcpy(data + at, SECRET, strlen(SECRET));
	memcpy(data + 2 * 65536 - 1, SECRET, strlen(SECRET));
	assert_int_equal(spool_open(&s, path), 0);
	spool_set_redactor(s, r);
	assert_int_equal(spool_write(s, data, len), 0);
	spool_free(s); /* without finish: nothing held may be lost */
	file = tmpdir_read_file(path);
	assert_non_null(file);
	assert_null(strstr(file, SECRET));
	assert_int_equal(strlen(file), len - 2 * strlen(SECRET) + 2 * strlen(REDACT_MASK));
	assert_memory_equal(file + at, REDACT_MASK "xxx", 7);
	free(file);
	free(data);
	redactor_free(r);
	free(path);
}

static void test_redact__spool_without_redactor_is_unchanged(void **state)
{
	char *path = xasprintf("%s/plain.log", tmpdir);
	struct redactor *r = redactor_with(SECRET);
	struct spool *s;
	char *file;

	(void)state;
	assert_int_equal(spool_open(&s, path), 0);
	assert_int_equal(spool_write(s, SECRET "\n", strlen(SECRET) + 1), 0);
	assert_int_equal(spool_set_redactor(s, r), 0);
	assert_int_equal(spool_write(s, SECRET "\ns3c", strlen(SECRET) + 4), 0);
	/* Detaching releases what was held. */
	assert_int_equal(spool_set_redactor(s, NULL), 0);
	assert_int_equal(spool_write(s, SECRET, strlen(SECRET)), 0);
	assert_int_equal(spool_finish(s), 0);
	file = tmpdir_read_file(path);
	assert_non_null(file);
	assert_string_equal(file, SECRET "\n" REDACT_MASK "\ns3c" SECRET);
	free(file);
	spool_free(s);
	redactor_free(r);
	free(path);
}

static void test_redact__spool_write_error_stays_sticky(void **state)
{
	struct redactor *r = redactor_with(SECRET);
	struct spool *s;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	assert_int_equal(spool_open(&s, "/dev/full"), 0);
	spool_set_redactor(s, r);
	/* Everything held: no write yet, so no error yet. */
	assert_int_equal(spool_write(s, "s3cr", 4), 0);
	assert_int_equal(spool_finish(s), DA_ERROR);
	assert_non_null(strstr(error_last(), "No space left"));
	assert_int_equal(spool_write(s, "y", 1), DA_ERROR);
	spool_free(s);
	redactor_free(r);
}

/* ---- error messages and the agent's log ---- */

static void test_redact__error_messages(void **state)
{
	struct redactor *r = redactor_with(SECRET);
	char filler[3000];
	char *b64 = base64_form((const unsigned char *)SECRET, strlen(SECRET), false, true);

	(void)state;
	redact_set_global(r);
	error_set("Jenkins refused the token %s", SECRET);
	assert_string_equal(error_last(), "Jenkins refused the token " REDACT_MASK);
	error_prefix("calling with %s: ", b64);
	assert_string_equal(error_last(), "calling with " REDACT_MASK ": Jenkins refused the token "
			    REDACT_MASK);
	errno = ENOENT;
	error_set_errno("cannot open %s", "/x/" SECRET);
	assert_string_equal(error_last(), "cannot open /x/" REDACT_MASK ": No such file or directory");
	/* Cut at the message limit after redaction: no front of the secret survives. */
	memset(filler, '.', sizeof(filler));
	for (size_t off = 2030; off < 2050; off++) {
		filler[off] = '\0';
		error_set("%s%s", filler, SECRET);
		assert_null(strstr(error_last(), "s3c"));
		filler[off] = '.';
	}
	/* A message quoting the last one (a common pattern) is still whole. */
	error_set("inner " SECRET);
	error_set("outer: %s", error_last());
	assert_string_equal(error_last(), "outer: inner " REDACT_MASK);
	redact_set_global(NULL);
	error_set("unguarded %s", SECRET);
	assert_string_equal(error_last(), "unguarded " SECRET);
	error_clear();
	free(b64);
	redactor_free(r);
}

static void test_redact__log_lines(void **state)
{
	struct redactor *r = redactor_with(SECRET);
	char *path = xasprintf("%s/agent.log", tmpdir), *text, *json = json_form(SECRET, JSON_ESCAPE_SLASH);
	int saved = dup(STDERR_FILENO), fd;

	(void)state;
	fflush(stderr);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDERR_FILENO);
	close(fd);
	redact_set_global(r);
	log_write(LOG_ERROR, "token %s and {\"t\":\"%s\"}", SECRET, json);
	log_write(LOG_ERROR, "multi\nline " SECRET);
	redact_set_global(NULL);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	text = tmpdir_read_file(path);
	assert_non_null(text);
	assert_null(strstr(text, SECRET));
	assert_null(strstr(text, json));
	assert_non_null(strstr(text, " error token " REDACT_MASK " and {\"t\":\"" REDACT_MASK "\"}\n"));
	assert_non_null(strstr(text, " error multi\\x0aline " REDACT_MASK "\n"));
	free(text);
	free(json);
	free(path);
	redactor_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact__raw_value_is_masked),
		cmocka_unit_test(test_redact__split_at_every_offset_raw),
		cmocka_unit_test(test_redact__url_encoded_forms),
		cmocka_unit_test(test_redact__json_escaped_forms),
		cmocka_unit_test(test_redact__base64_whole_forms),
		cmocka_unit_test(test_redact__base64_inside_a_stream_every_alignment),
		cmocka_unit_test(test_redact__basic_auth_header),
		cmocka_unit_test(test_redact__base64_then_escaped),
		cmocka_unit_test(test_redact__bytes_that_are_not_utf8),
		cmocka_unit_test(test_redact__overlapping_and_adjacent_values_merge),
		cmocka_unit_test(test_redact__value_that_is_a_prefix_of_another),
		cmocka_unit_test(test_redact__random_text_matches_a_naive_model),
		cmocka_unit_test(test_redact__holds_back_only_a_possible_start),
		cmocka_unit_test(test_redact__long_live_run_is_released_as_it_goes),
		cmocka_unit_test(test_redact__output_room_is_checked_first),
		cmocka_unit_test(test_redact__short_long_and_repeated_values),
		cmocka_unit_test(test_redact__multi_line_value_line_by_line),
		cmocka_unit_test(test_redact__empty_redactor_passes_everything),
		cmocka_unit_test(test_redact__values_added_while_in_use),
		cmocka_unit_test(test_redact__spool_readers_never_see_a_secret),
		cmocka_unit_test(test_redact__spool_big_write_secret_across_chunks),
		cmocka_unit_test(test_redact__spool_without_redactor_is_unchanged),
		cmocka_unit_test(test_redact__spool_write_error_stays_sticky),
		cmocka_unit_test(test_redact__error_messages),
		cmocka_unit_test(test_redact__log_lines),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
