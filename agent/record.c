/*
 * record.c - the bytes of one run record (see record.h and
 * jenkins-api.md §7), and a decoder that reads them back as Jenkins does.
 */
#include "record.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "utf8.h"
#include "xmltext.h"
#include "xmalloc.h"

/* An empty comment: it ends a text event at once (§7.4) and decodes to nothing. */
#define RECORD_COMMENT "<!---->"
#define RECORD_COMMENT_LEN (sizeof(RECORD_COMMENT) - 1)
/* Java's Long.MAX_VALUE: Long.parseLong throws above it, failing the run (§7.2 step 7). */
#define RECORD_DURATION_MAX 9223372036854775807ULL

enum record_state {
	RECORD_STATE_NEW,    /* nothing written yet */
	RECORD_STATE_OPEN,   /* inside <log> */
	RECORD_STATE_CLOSED, /* </run> written */
};

struct record_writer {
	enum record_state state;
};

static const char *const record_state_names[] = {
	[RECORD_STATE_NEW] = "not opened",
	[RECORD_STATE_OPEN] = "open",
	[RECORD_STATE_CLOSED] = "closed",
};

int record_writer_new(struct record_writer **out)
{
	*out = xcalloc(1, sizeof(**out));
	(*out)->state = RECORD_STATE_NEW;
	return 0;
}

void record_writer_free(struct record_writer *w)
{
	free(w);
}

/* Refuse a call made in the wrong state: a record out of order is a broken document. */
static int record_state_check(const struct record_writer *w, const char *what, bool ok)
{
	if (ok)
		return 0;
	error_set("run record: %s while the record is %s", what, record_state_names[w->state]);
	return DA_EINVALID;
}

/* Check that n more bytes fit, so an append is all or nothing. */
static int record_room_check(const struct buf *out, size_t n)
{
	if (n > out->max - out->len) {
		error_set("run record: %zu more bytes would pass the buffer limit of %zu bytes",
		    n, out->max);
		return DA_ETOOBIG;
	}
	return 0;
}

size_t record_hex_size(size_t len)
{
	if (len == 0)
		return 0;
	if (len > (SIZE_MAX - RECORD_COMMENT_LEN) / 2)
		return SIZE_MAX;
	return 2 * len + RECORD_COMMENT_LEN;
}

const char *record_result_name(enum record_result result)
{
	/* No default: -Wswitch flags a new result without a name (STYLE.md 11). */
	switch (result) {
	case RECORD_SUCCESS:
		return "SUCCESS";
	case RECORD_UNSTABLE:
		return "UNSTABLE";
	case RECORD_FAILURE:
		return "FAILURE";
	case RECORD_NOT_BUILT:
		return "NOT_BUILT";
	case RECORD_ABORTED:
		return "ABORTED";
	}
	return "FAILURE";
}

int record_open(struct record_writer *w, struct buf *out)
{
	static const char head[] = "<run><log encoding=\"hexBinary\">";
	int rc;

	if ((rc = record_state_check(w, "open", w->state == RECORD_STATE_NEW)) < 0)
		goto out;
	if ((rc = buf_put(out, head, sizeof(head) - 1)) < 0)
		goto out;
	w->state = RECORD_STATE_OPEN;
out:
	return rc;
}

int record_log(struct record_writer *w, struct buf *out, const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	char hex[512];
	size_t i, n;
	int rc;

	if ((rc = record_state_check(w, "log", w->state == RECORD_STATE_OPEN)) < 0)
		goto out;
	/* An empty write would send a bare comment; nothing is simpler. */
	if (len == 0)
		goto out;
	if ((rc = record_room_check(out, record_hex_size(len))) < 0)
		goto out;
	/* Lowercase hex with no separator: DecodingStream reads any whitespace as a nibble (§7.2 step 4). */
	for (i = 0; i < len; i += n) {
		n = len - i < sizeof(hex) / 2 ? len - i : sizeof(hex) / 2;
		for (size_t j = 0; j < n; j++) {
			hex[2 * j] = digits[p[i + j] >> 4];
			hex[2 * j + 1] = digits[p[i + j] & 0xf];
		}
		if ((rc = buf_put(out, hex, 2 * n)) < 0)
			goto out;
	}
	/* The comment makes Jenkins' parser deliver the hex now, not with the next chunk (§7.4). */
	rc = buf_put(out, RECORD_COMMENT, RECORD_COMMENT_LEN);
out:
	return rc;
}

int record_keepalive(struct record_writer *w, struct buf *out)
{
	int rc;

	/* A comment is allowed before <run> and inside <log>; after </run> nobody reads it. */
	if ((rc = record_state_check(w, "keep-alive", w->state != RECORD_STATE_CLOSED)) < 0)
		goto out;
	rc = buf_put(out, RECORD_COMMENT, RECORD_COMMENT_LEN);
out:
	return rc;
}

int record_close(struct record_writer *w, struct buf *out, enum record_result result,
    unsigned long duration_ms, const char *display_name, const char *description)
{
	struct buf tail;
	unsigned long long duration = duration_ms;
	int rc;

	/* The tail is built aside and appended in one piece: all or nothing. */
	buf_init(&tail, out->max - out->len);
	if ((rc = record_state_check(w, "close", w->state == RECORD_STATE_OPEN)) < 0)
		goto out;
	if (duration > RECORD_DURATION_MAX)
		duration = RECORD_DURATION_MAX;
	/* 0 and 1 for SUCCESS and FAILURE, which every plugin version parses; names for the rest (§7.2 step 5). */
	if (result == RECORD_SUCCESS || result == RECORD_FAILURE)
		rc = buf_printf(&tail, "</log><result>%d</result>", result == RECORD_SUCCESS ? 0 : 1);
	else
		rc = buf_printf(&tail, "</log><result>%s</result>", record_result_name(result));
	if (rc < 0)
		goto out;
	if ((rc = buf_printf(&tail, "<duration>%llu</duration>", duration)) < 0)
		goto out;
	if (display_name) {
		if ((rc = buf_puts(&tail, "<displayName>")) < 0 ||
		    (rc = xml_text_put(&tail, display_name)) < 0 ||
		    (rc = buf_puts(&tail, "</displayName>")) < 0)
			goto out;
	}
	if (description) {
		if ((rc = buf_puts(&tail, "<description>")) < 0 ||
		    (rc = xml_text_put(&tail, description)) < 0 ||
		    (rc = buf_puts(&tail, "</description>")) < 0)
			goto out;
	}
	if ((rc = buf_puts(&tail, "</run>")) < 0)
		goto out;
	if ((rc = buf_put(out, tail.ptr, tail.len)) < 0)
		goto out;
	w->state = RECORD_STATE_CLOSED;
out:
	buf_dispose(&tail);
	return rc;
}

/* ---- the decoder: ExternalRun's reading loop over a small StAX-like cursor ---- */

enum record_event {
	RECORD_EV_START,
	RECORD_EV_END,
	RECORD_EV_TEXT,    /* characters or CDATA; the text is in the cursor's buffer */
	RECORD_EV_OTHER,   /* comment or processing instruction */
	RECORD_EV_EOF,
};

#define RECORD_DEPTH_MAX 64

struct record_cursor {
	const char *p, *end;
	/* Open elements, to check that end tags match as any XML parser does. */
	const char *names[RECORD_DEPTH_MAX];
	size_t name_lens[RECORD_DEPTH_MAX];
	int depth;
	bool pending_end;  /* after <x/>: the END event comes next */
	bool seen_root;    /* a second root element is not XML */
	const char *name;  /* of the last START or END */
	size_t name_len;
	struct buf text;   /* of the last TEXT, UTF-8 */
};

static bool record_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool record_name_is(const struct record_cursor *c, const char *name)
{
	return c->name_len == strlen(name) && memcmp(c->name, name, c->name_len) == 0;
}

/* Find s in the rest of the input; NULL when it is not there. */
static const char *record_find(const struct record_cursor *c, const char *s)
{
	size_t n = strlen(s);

	for (const char *q = c->p; (size_t)(c->end - q) >= n; q++)
		if (memcmp(q, s, n) == 0)
			return q;
	return NULL;
}

/* Append a code point as UTF-8. */
static int record_utf8_put(struct buf *b, uint32_t c)
{
	char u[4];
	size_t n;

	if (c < 0x80) {
		u[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | c >> 6);
		u[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | c >> 12);
		u[1] = (char)(0x80 | (c >> 6 & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | c >> 18);
		u[1] = (char)(0x80 | (c >> 12 & 0x3f));
		u[2] = (char)(0x80 | (c >> 6 & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	return buf_put(b, u, n);
}

/* A character reference &#N; or &#xN; (the part after '#'): a character XML allows, as UTF-8. */
static int record_charref_put(struct buf *b, const char *ref, size_t len)
{
	bool hex = len > 0 && ref[0] == 'x';
	size_t k = hex ? 1 : 0;
	uint32_t v = 0;
	bool ok = k < len;

	for (; ok && k < len; k++) {
		int d = -1;

		if (ref[k] >= '0' && ref[k] <= '9')
			d = ref[k] - '0';
		else if (hex && ref[k] >= 'a' && ref[k] <= 'f')
			d = ref[k] - 'a' + 10;
		else if (hex && ref[k] >= 'A' && ref[k] <= 'F')
			d = ref[k] - 'A' + 10;
		ok = d >= 0 && (v = v * (hex ? 16 : 10) + (uint32_t)d) <= 0x10ffff;
	}
	if (!ok || !xml_char_ok(v) || (v >= 0xd800 && v <= 0xdfff)) {
		error_set("run record: bad character reference &#%.*s;", (int)len, ref);
		return DA_EINVALID;
	}
	return record_utf8_put(b, v);
}

/*
 * Append the characters of [p, end) to the text: the request reader
 * replaces broken UTF-8 with U+FFFD (Jetty's InputStreamReader), the
 * parser refuses characters XML forbids and turns CR LF and lone CR into
 * LF. Entity and character references only when refs is set (not in CDATA).
 */
static int record_chars_put(struct record_cursor *c, const char *p, const char *end, bool refs)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t n = (size_t)(end - p), i = 0, len, bad;
	uint32_t cp;
	int rc = 0;

	while (i < n && rc == 0) {
		len = utf8_decode(s + i, n - i, &cp, &bad);
		if (len == 0) {
			rc = xml_replacement_put(&c->text);
			i += bad;
			continue;
		}
		if (!xml_char_ok(cp)) {
			error_set("run record: invalid XML character U+%04X", (unsigned)cp);
			return DA_EINVALID;
		}
		if (cp == '\r') {
			rc = buf_putc(&c->text, '\n');
			i += i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
			continue;
		}
		if (cp == '&' && refs) {
			const char *semi = memchr(p + i, ';', n - i);
			const char *ref = p + i + 1;
			size_t rlen = semi ? (size_t)(semi - ref) : 0;
			static const struct { const char *name; char c; } ents[] = {
				{ "lt", '<' }, { "gt", '>' }, { "amp", '&' }, { "quot", '"' }, { "apos", '\'' },
			};
			bool found = false;

			if (!semi || rlen == 0) {
				error_set("run record: unterminated reference");
				return DA_EINVALID;
			}
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				if (strlen(ents[k].name) == rlen && memcmp(ents[k].name, ref, rlen) == 0) {
					rc = buf_putc(&c->text, ents[k].c);
					found = true;
				}
			}
			if (!found && ref[0] == '#') {
				if ((rc = record_charref_put(&c->text, ref + 1, rlen - 1)) < 0)
					return rc;
				found = true;
			}
			if (!found) {
				error_set("run record: undeclared entity &%.*s;", (int)rlen, ref);
				return DA_EINVALID;
			}
			i += rlen + 2;
			continue;
		}
		if (cp == '>' && refs && i >= 2 && s[i - 1] == ']' && s[i - 2] == ']') {
			error_set("run record: ']]>' in character data");
			return DA_EINVALID;
		}
		rc = buf_put(&c->text, s + i, len);
		i += len;
	}
	return rc;
}

/* Read one name at c->p (loosely: up to whitespace or markup). */
static int record_name_read(struct record_cursor *c, const char **name, size_t *len)
{
	const char *q = c->p;

	while (q < c->end && !record_is_space(*q) && !strchr("/>=<\"'", *q))
		q++;
	if (q == c->p) {
		error_set("run record: expected a name");
		return DA_EINVALID;
	}
	*name = c->p;
	*len = (size_t)(q - c->p);
	c->p = q;
	return 0;
}

static void record_space_skip(struct record_cursor *c)
{
	while (c->p < c->end && record_is_space(*c->p))
		c->p++;
}

/* A start tag after its '<': name, attributes (read and dropped), '>' or '/>'. */
static int record_start_tag_read(struct record_cursor *c)
{
	const char *aname;
	size_t alen;
	bool closed = false;
	int rc;

	if ((rc = record_name_read(c, &c->name, &c->name_len)) < 0)
		return rc;
	for (;;) {
		bool space = c->p < c->end && record_is_space(*c->p);

		record_space_skip(c);
		if (c->p >= c->end)
			break;
		if (*c->p == '>') {
			c->p++;
			closed = true;
			break;
		}
		if (*c->p == '/' && c->p + 1 < c->end && c->p[1] == '>') {
			c->p += 2;
			c->pending_end = true;
			closed = true;
			break;
		}
		if (!space)
			goto bad;
		if ((rc = record_name_read(c, &aname, &alen)) < 0)
			return rc;
		record_space_skip(c);
		if (c->p >= c->end || *c->p != '=')
			goto bad;
		c->p++;
		record_space_skip(c);
		if (c->p >= c->end || (*c->p != '"' && *c->p != '\''))
			goto bad;
		{
			const char *close = memchr(c->p + 1, *c->p, (size_t)(c->end - c->p - 1));

			if (!close || memchr(c->p, '<', (size_t)(close - c->p)))
				goto bad;
			c->p = close + 1;
		}
	}
	if (!closed) {
		error_set("run record: body ends inside a start tag");
		return DA_EINVALID;
	}
	if (c->depth == 0 && c->seen_root) {
		error_set("run record: markup after the root element");
		return DA_EINVALID;
	}
	c->seen_root = true;
	if (c->depth == RECORD_DEPTH_MAX) {
		error_set("run record: elements nested deeper than %d", RECORD_DEPTH_MAX);
		return DA_EINVALID;
	}
	c->names[c->depth] = c->name;
	c->name_lens[c->depth] = c->name_len;
	c->depth++;
	return 0;
bad:
	error_set("run record: malformed start tag <%.*s>", (int)c->name_len, c->name);
	return DA_EINVALID;
}

/* Pop the innermost element; its name must be the end tag's. */
static int record_end_pop(struct record_cursor *c)
{
	if (c->depth == 0 || c->name_lens[c->depth - 1] != c->name_len ||
	    memcmp(c->names[c->depth - 1], c->name, c->name_len) != 0) {
		error_set("run record: end tag </%.*s> does not match", (int)c->name_len, c->name);
		return DA_EINVALID;
	}
	c->depth--;
	return 0;
}

/* The next event, as XMLStreamReader.next() reports it. */
static int record_next(struct record_cursor *c, enum record_event *ev)
{
	const char *q;
	int rc;

	buf_clear(&c->text);
	if (c->pending_end) {
		c->pending_end = false;
		*ev = RECORD_EV_END;
		return record_end_pop(c);
	}
	if (c->p >= c->end) {
		*ev = RECORD_EV_EOF;
		return 0;
	}
	if (*c->p != '<') {
		q = memchr(c->p, '<', (size_t)(c->end - c->p));
		if (!q)
			q = c->end;
		*ev = RECORD_EV_TEXT;
		rc = record_chars_put(c, c->p, q, true);
		c->p = q;
		return rc;
	}
	c->p++;
	if (c->end - c->p >= 3 && memcmp(c->p, "!--", 3) == 0) {
		c->p += 3;
		/* "--" may only appear as the end of a comment. */
		if (!(q = record_find(c, "--")) || q + 2 >= c->end || q[2] != '>') {
			error_set("run record: malformed comment");
			return DA_EINVALID;
		}
		c->p = q + 3;
		*ev = RECORD_EV_OTHER;
		return 0;
	}
	if (c->end - c->p >= 8 && memcmp(c->p, "![CDATA[", 8) == 0) {
		c->p += 8;
		if (!(q = record_find(c, "]]>"))) {
			error_set("run record: unterminated CDATA section");
			return DA_EINVALID;
		}
		*ev = RECORD_EV_TEXT;
		rc = record_chars_put(c, c->p, q, false);
		c->p = q + 3;
		return rc;
	}
	if (c->p < c->end && *c->p == '!') {
		/* DOCTYPE and the rest: SUPPORT_DTD is off in Jenkins (§7.2 step 3). */
		error_set("run record: DOCTYPE or other declaration not allowed");
		return DA_EINVALID;
	}
	if (c->p < c->end && *c->p == '?') {
		if (!(q = record_find(c, "?>"))) {
			error_set("run record: unterminated processing instruction");
			return DA_EINVALID;
		}
		c->p = q + 2;
		*ev = RECORD_EV_OTHER;
		return 0;
	}
	if (c->p < c->end && *c->p == '/') {
		c->p++;
		if ((rc = record_name_read(c, &c->name, &c->name_len)) < 0)
			return rc;
		record_space_skip(c);
		if (c->p >= c->end || *c->p != '>') {
			error_set("run record: malformed end tag");
			return DA_EINVALID;
		}
		c->p++;
		*ev = RECORD_EV_END;
		return record_end_pop(c);
	}
	*ev = RECORD_EV_START;
	return record_start_tag_read(c);
}

static bool record_text_is_space(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (!record_is_space(b->ptr[i]))
			return false;
	return true;
}

/* XMLStreamReader.nextTag(): skip whitespace, comments and PIs; anything else but a tag throws. */
static int record_next_tag(struct record_cursor *c, enum record_event *ev)
{
	int rc;

	for (;;) {
		if ((rc = record_next(c, ev)) < 0)
			return rc;
		if (*ev == RECORD_EV_START || *ev == RECORD_EV_END)
			return 0;
		if (*ev == RECORD_EV_EOF) {
			error_set("run record: body ends before </run>");
			return DA_EINVALID;
		}
		if (*ev == RECORD_EV_TEXT && !record_text_is_space(&c->text)) {
			error_set("run record: text where a tag was expected");
			return DA_EINVALID;
		}
	}
}

/* XMLStreamReader.getElementText() after a START: the text up to its END, as a new string. */
static int record_element_text(struct record_cursor *c, char **out)
{
	struct buf all;
	enum record_event ev;
	int rc;

	*out = NULL;
	buf_init(&all, (size_t)(c->end - c->p) * 3 + 16);
	for (;;) {
		if ((rc = record_next(c, &ev)) < 0)
			goto out;
		if (ev == RECORD_EV_END)
			break;
		if (ev == RECORD_EV_START || ev == RECORD_EV_EOF) {
			error_set("run record: element <%.*s> must hold text only",
			    (int)c->name_len, c->name);
			rc = DA_EINVALID;
			goto out;
		}
		if (ev == RECORD_EV_TEXT && (rc = buf_put(&all, c->text.ptr, c->text.len)) < 0)
			goto out;
	}
	*out = buf_detach(&all);
out:
	buf_dispose(&all);
	return rc;
}

/* Java's Character.getNumericValue for what FilterOutputStream passes on: a signed byte. */
static int record_java_numeric(int b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	if (b >= 'A' && b <= 'Z')
		return b - 'A' + 10;
	if (b >= 'a' && b <= 'z')
		return b - 'a' + 10;
	return -1;
}

/*
 * hudson.util.DecodingStream (§7.2 step 4): -1 means "no nibble held",
 * which a 0xFF byte (signed -1) also looks like; Jenkins has the same quirk.
 */
static int record_decoding_write(int *last, struct buf *log, const struct buf *text)
{
	int rc = 0;

	for (size_t i = 0; i < text->len && rc == 0; i++) {
		int b = (signed char)text->ptr[i];

		if (*last == -1) {
			*last = b;
			continue;
		}
		rc = buf_putc(log, (char)((record_java_numeric(*last) * 16 + record_java_numeric(b)) & 0xff));
		*last = -1;
	}
	return rc;
}

/* Integer.parseInt / Long.parseLong: optional sign, decimal digits, in range. */
static bool record_java_parse_long(const char *s, long long min, long long max, long long *out)
{
	bool neg = false;
	unsigned long long v = 0, lim;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return false;
	lim = neg ? (unsigned long long)-(min + 1) + 1 : (unsigned long long)max;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9')
			return false;
		/* Checked before the product: v * 10 could wrap past 2^64 back into range. */
		if (v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

/* §7.2 step 5: an integer (0 = SUCCESS), else Result.fromString, unknown = FAILURE. */
static enum record_result record_result_parse(const char *s)
{
	static const enum record_result all[] = {
		RECORD_SUCCESS, RECORD_UNSTABLE, RECORD_FAILURE, RECORD_NOT_BUILT, RECORD_ABORTED,
	};
	long long v;

	if (record_java_parse_long(s, INT32_MIN, INT32_MAX, &v))
		return v == 0 ? RECORD_SUCCESS : RECORD_FAILURE;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcasecmp(s, record_result_name(all[i])) == 0)
			return all[i];
	return RECORD_FAILURE;
}

int record_parse(const char *body, size_t len, struct record_parsed *out)
{
	struct record_cursor c;
	enum record_event ev;
	char *text = NULL;
	int last = -1;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.p = body;
	c.end = body + len;
	/* Capped by the input: no body decodes to more than these. */
	buf_init(&out->log, len * 2 + 16);
	buf_init(&c.text, len * 3 + 16);
	out->result = RECORD_FAILURE;

	/* ExternalRun takes the first two tags as <run> and <log> without looking at their names. */
	for (int i = 0; i < 2; i++) {
		if ((rc = record_next_tag(&c, &ev)) < 0)
			goto out;
		if (ev != RECORD_EV_START) {
			error_set("run record: expected <run><log>");
			rc = DA_EINVALID;
			goto out;
		}
	}
	/* Every text and CDATA event until the first end tag goes through DecodingStream. */
	for (;;) {
		if ((rc = record_next(&c, &ev)) < 0)
			goto out;
		if (ev == RECORD_EV_END)
			break;
		if (ev == RECORD_EV_EOF) {
			error_set("run record: body ends inside <log>");
			rc = DA_EINVALID;
			goto out;
		}
		if (ev == RECORD_EV_TEXT && (rc = record_decoding_write(&last, &out->log, &c.text)) < 0)
			goto out;
	}
	if ((rc = record_next_tag(&c, &ev)) < 0)
		goto out;
	if (ev != RECORD_EV_START) {
		error_set("run record: expected <result>");
		rc = DA_EINVALID;
		goto out;
	}
	if ((rc = record_element_text(&c, &text)) < 0)
		goto out;
	out->result = record_result_parse(text);
	free(text);
	text = NULL;
	do {
		if ((rc = record_next_tag(&c, &ev)) < 0)
			goto out;
		if (ev != RECORD_EV_START)
			continue;
		if (record_name_is(&c, "duration")) {
			if ((rc = record_element_text(&c, &text)) < 0)
				goto out;
			if (!record_java_parse_long(text, INT64_MIN, INT64_MAX, &out->duration_ms)) {
				error_set("run record: NumberFormatException for duration \"%s\"", text);
				rc = DA_EINVALID;
				goto out;
			}
			free(text);
			text = NULL;
		} else if (record_name_is(&c, "displayName")) {
			free(out->display_name);
			if ((rc = record_element_text(&c, &out->display_name)) < 0)
				goto out;
		} else if (record_name_is(&c, "description")) {
			free(out->description);
			if ((rc = record_element_text(&c, &out->description)) < 0)
				goto out;
		}
	} while (!(ev == RECORD_EV_END && record_name_is(&c, "run")));
out:
	free(text);
	buf_dispose(&c.text);
	if (rc < 0)
		record_parsed_dispose(out);
	return rc;
}

void record_parsed_dispose(struct record_parsed *p)
{
	if (!p)
		return;
	buf_dispose(&p->log);
	free(p->display_name);
	free(p->description);
	memset(p, 0, sizeof(*p));
	p->result = RECORD_FAILURE;
}
