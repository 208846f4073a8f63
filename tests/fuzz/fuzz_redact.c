/*
 * fuzz_redact.c - the redactor (common/redact.c): no secret form gets out.
 *
 * From the input: up to three secret values, the points where the text
 * will be cut into writes, then the text itself, built of random filler
 * and forms of those values (raw, URL-encoded in either case, JSON-escaped,
 * base64 whole or inside a longer base64 run at any alignment). Checked:
 * - no form of any value is left in the output, whichever way it got in
 *   (planted or made by the filler); '*' is kept out of values and filler
 *   so that a mask next to text can never spell a value by itself;
 * - the output does not depend on the cuts (one write gives the same);
 * - what is not masked passes through: the output is the input with some
 *   spans replaced by the mask, in order, nothing added or reordered;
 * - at most the bytes of a possible start are held back after a write.
 */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "redact.h"

#define VALUES_MAX 3
#define VALUE_LEN_MAX 24
#define CUTS_MAX 8

struct value {
	unsigned char v[VALUE_LEN_MAX];
	size_t len;
};

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static bool alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void put_url(struct buf *b, const struct value *v, bool lower, bool plus)
{
	for (size_t i = 0; i < v->len; i++) {
		if (alnum(v->v[i]))
			buf_putc(b, (char)v->v[i]);
		else if (plus && v->v[i] == ' ')
			buf_putc(b, '+');
		else
			buf_printf(b, lower ? "%%%02x" : "%%%02X", v->v[i]);
	}
}

/* JSON as a minimal encoder writes it: short escapes, \u00XX for other controls. */
static void put_json(struct buf *b, const struct value *v, bool slash)
{
	for (size_t i = 0; i < v->len; i++) {
		unsigned char c = v->v[i];

		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '/': buf_puts(b, slash ? "\\/" : "/"); break;
		default:
			if (c < 0x20)
				buf_printf(b, "\\u%04x", c);
			else
				buf_putc(b, (char)c);
		}
	}
}

static void put_base64(struct buf *b, const unsigned char *in, size_t n, bool url, bool pad)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		for (int k = 18; k >= 0; k -= 6) {
			char c = b64std[(x >> k) & 63];

			buf_putc(b, url && c == '+' ? '-' : url && c == '/' ? '_' : c);
		}
	}
	if (i < n) {
		uint32_t x = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		int chars = i + 1 < n ? 3 : 2;

		for (int k = 0; k < chars; k++) {
			char c = b64std[(x >> (18 - 6 * k)) & 63];

			buf_putc(b, url && c == '+' ? '-' : url && c == '/' ? '_' : c);
		}
		if (pad)
			buf_puts(b, chars == 3 ? "=" : "==");
	}
}

/* The forms checked in the output; each is at least as long as the value's stable base64 part. */
static size_t forms_of(const struct value *v, struct buf *forms, size_t max)
{
	size_t n = 0;

	for (int k = 0; k < 6 && n < max; k++) {
		buf_clear(&forms[n]);
		switch (k) {
		case 0: buf_put(&forms[n], v->v, v->len); break;
		case 1: put_url(&forms[n], v, false, false); break;
		case 2: put_url(&forms[n], v, true, true); break;
		case 3: put_json(&forms[n], v, true); break;
		case 4: put_base64(&forms[n], v->v, v->len, false, true); break;
		case 5: put_base64(&forms[n], v->v, v->len, true, false); break;
		}
		n++;
	}
	/* Inside a longer base64 run: the characters made of the value's bits only. */
	for (size_t a = 0; a < 3 && n < max; a++) {
		unsigned char shifted[VALUE_LEN_MAX + 2] = { 0 };
		size_t first = (8 * a + 5) / 6, end = (8 * a + 8 * v->len) / 6;
		struct buf tmp;

		memcpy(shifted + a, v->v, v->len);
		buf_init(&tmp, 1 << 20);
		put_base64(&tmp, shifted, v->len + a, false, false);
		buf_clear(&forms[n]);
		buf_put(&forms[n], tmp.ptr + first, end - first);
		buf_dispose(&tmp);
		n++;
	}
	return n;
}

static bool contains(const struct buf *hay, const struct buf *needle)
{
	return needle->len > 0 && hay->len >= needle->len &&
	       memmem(buf_cstr(hay), hay->len, buf_cstr(needle), needle->len) != NULL;
}

static void redact_cut(struct redactor *r, const struct buf *text, const size_t *cuts,
		       size_t ncuts, struct buf *out)
{
	struct redact_stream *st;
	size_t prev = 0;

	redact_stream_new(&st, r);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : text->len;

		FUZZ_CHECK(redact_stream_write(st, buf_cstr(text) + prev, end - prev, out) == 0);
		/* What is held is a possible start of a form, never longer than the longest. */
		FUZZ_CHECK(redact_stream_held(st) <= 6 * VALUE_LEN_MAX);
		prev = end;
	}
	FUZZ_CHECK(redact_stream_finish(st, out) == 0);
	FUZZ_CHECK(redact_stream_held(st) == 0);
	redact_stream_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct value values[VALUES_MAX];
	size_t nvalues = 1 + fuzz_u8(&in) % VALUES_MAX, cuts[CUTS_MAX], raw_cuts[CUTS_MAX], ncuts;
	struct buf text, whole, split, forms[9];
	struct redactor *r;
	const size_t mask_len = strlen(REDACT_MASK);

	redactor_new(&r);
	for (size_t i = 0; i < nvalues; i++) {
		const uint8_t *p;

		values[i].len = REDACT_MIN_LEN + fuzz_u8(&in) % (VALUE_LEN_MAX - REDACT_MIN_LEN + 1);
		values[i].len = fuzz_bytes(&in, values[i].len, &p);
		memcpy(values[i].v, p, values[i].len);
		for (size_t k = 0; k < values[i].len; k++)
			if (values[i].v[k] == '*')
				values[i].v[k] = '+';
		if (values[i].len < REDACT_MIN_LEN) {
			FUZZ_CHECK(redact_add(r, values[i].v, values[i].len) == REDACT_SKIPPED);
			nvalues = i;
			break;
		}
		FUZZ_CHECK(redact_add(r, values[i].v, values[i].len) == 0);
	}

	/* Where the text will be cut into writes: drawn before the text, so that every input has them. */
	ncuts = fuzz_u8(&in) % (CUTS_MAX + 1);
	for (size_t i = 0; i < ncuts; i++) {
		size_t hi = fuzz_u8(&in), lo = fuzz_u8(&in);

		raw_cuts[i] = hi << 8 | lo;
	}

	/* The text: filler and planted forms, to the end of the input. */
	buf_init(&text, 1 << 20);
	for (int piece = 0; piece < 32 && in.n > 0; piece++) {
		uint8_t op = fuzz_u8(&in);
		const struct value *v = nvalues ? &values[fuzz_u8(&in) % nvalues] : NULL;
		const uint8_t *p;
		size_t n;

		if (!v || op % 2 == 0) {
			n = fuzz_bytes(&in, op / 2 % 64, &p);
			for (size_t k = 0; k < n; k++)
				buf_putc(&text, p[k] == '*' ? '.' : (char)p[k]);
			continue;
		}
		switch (op / 2 % 8) {
		case 0: buf_put(&text, v->v, v->len); break;
		case 1: put_url(&text, v, false, false); break;
		case 2: put_url(&text, v, true, true); break;
		case 3: put_json(&text, v, op & 0x80); break;
		case 4: put_base64(&text, v->v, v->len, false, true); break;
		case 5: put_base64(&text, v->v, v->len, true, false); break;
		default: {
			/* The value in the middle of other bytes, all base64-encoded. */
			unsigned char run[VALUE_LEN_MAX + 8];
			size_t before = fuzz_u8(&in) % 4, after = fuzz_u8(&in) % 4;

			memset(run, 'x', sizeof(run));
			memcpy(run + before, v->v, v->len);
			put_base64(&text, run, before + v->len + after, op & 0x80, true);
			break;
		}
		}
	}
	/* The cuts, as drawn above, made positions of this text and sorted. */
	for (size_t i = 0; i < ncuts; i++) {
		size_t c = text.len ? raw_cuts[i] % (text.len + 1) : 0;
		size_t k = i;

		while (k > 0 && cuts[k - 1] > c) {
			cuts[k] = cuts[k - 1];
			k--;
		}
		cuts[k] = c;
	}

	buf_init(&whole, 1 << 21);
	buf_init(&split, 1 << 21);
	redact_cut(r, &text, NULL, 0, &whole);
	redact_cut(r, &text, cuts, ncuts, &split);
	FUZZ_CHECK(whole.len == split.len);
	FUZZ_CHECK(memcmp(buf_cstr(&whole), buf_cstr(&split), whole.len) == 0);
	FUZZ_CHECK(whole.len <= text.len);

	/* No form of any value survives. */
	for (size_t i = 0; i < 9; i++)
		buf_init(&forms[i], 1 << 20);
	for (size_t i = 0; i < nvalues; i++) {
		size_t nf = forms_of(&values[i], forms, 9);

		for (size_t f = 0; f < nf; f++) {
			if (forms[f].len < REDACT_MIN_LEN)
				continue;
			if (contains(&whole, &forms[f])) {
				fprintf(stderr, "value %zu form %zu left in the output\n", i, f);
				FUZZ_CHECK(!"a secret form got through");
			}
		}
	}

	/* The output is the text with spans replaced by the mask, in order. */
	{
		const char *tp = buf_cstr(&text), *wp = buf_cstr(&whole);
		size_t o = 0, t = 0;
		bool first = true;

		while (o <= whole.len) {
			const char *m = whole.len > o ?
				memmem(wp + o, whole.len - o, REDACT_MASK, mask_len) : NULL;
			size_t seg = m ? (size_t)(m - (wp + o)) : whole.len - o;

			if (first) {
				FUZZ_CHECK(seg <= text.len && memcmp(tp, wp, seg) == 0);
				t = seg;
			} else if (!m) {
				/* The last piece is the end of the text. */
				FUZZ_CHECK(seg <= text.len - t);
				FUZZ_CHECK(memcmp(tp + text.len - seg, wp + o, seg) == 0);
				t = text.len;
			} else {
				const char *at = seg == 0 ? tp + t :
					memmem(tp + t, text.len - t, wp + o, seg);

				FUZZ_CHECK(at != NULL);
				t = (size_t)(at - tp) + seg;
			}
			if (!m)
				break;
			/* A mask stands for at least REDACT_MIN_LEN bytes of text. */
			FUZZ_CHECK(text.len - t >= REDACT_MIN_LEN);
			t += REDACT_MIN_LEN;
			o = (size_t)(m - wp) + mask_len;
			first = false;
		}
		if (!memmem(wp, whole.len, REDACT_MASK, mask_len))
			FUZZ_CHECK(whole.len == text.len &&
				   memcmp(wp, tp, text.len) == 0);
	}

	for (size_t i = 0; i < 9; i++)
		buf_dispose(&forms[i]);
	buf_dispose(&text);
	buf_dispose(&whole);
	buf_dispose(&split);
	redactor_free(r);
	return 0;
}
