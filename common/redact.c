/*
 * redact.c - secret values and their forms, matched as one NFA over a stream.
 *
 * Each form of a value is a sequence of units (a character of the form),
 * each unit a list of alternatives (the character raw, %XX, \uXXXX, a short
 * JSON escape, '+'), each alternative a run of NFA states, one per byte.
 * The last state of an alternative leads to every alternative of the next
 * unit, or accepts at the form's last unit. States, units and alternatives
 * of all forms live in three flat arrays that only grow, so a stream's
 * threads (state ids) stay valid while values are added.
 *
 * A stream runs all threads at once (a Pike VM): for every byte it steps
 * the live threads and starts those whose first state takes the byte. Two
 * threads in one state are merged, keeping the earlier start, which is
 * enough because only the union of matched spans matters: a match found
 * from the later start is covered by the same match from the earlier one.
 * Matched spans are kept as sorted disjoint intervals of absolute offsets;
 * bytes are released up to the earliest start of a live thread.
 */
#include "redact.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "utf8.h"
#include "xmalloc.h"

#define RD_MORE UINT32_MAX          /* not the last state of its alternative */
#define RD_ACCEPT (UINT32_MAX - 1)  /* last state of the form's last unit */
#define RD_RELEASE_AT 4096          /* release held bytes mid-write past this */
#define RD_OUT_MAX (SIZE_MAX / 2)   /* a buf limit that is never reached */

struct rd_state {
	uint8_t byte;   /* the byte it takes; lower case when ci */
	uint8_t ci;     /* a hex digit of an escape: either case */
	uint32_t next;  /* RD_MORE, RD_ACCEPT or the unit that follows */
};

struct rd_unit {
	uint32_t first_alt; /* index in alts */
	uint32_t nalts;
};

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

struct redactor {
	pthread_rwlock_t lock;
	atomic_size_t nvalues;
	char **values;          /* for duplicates */
	size_t *value_lens;
	char **forms;           /* every form added, for duplicates */
	size_t *form_lens;
	size_t nforms;
	struct rd_state *states;
	size_t nstates, cap_states;
	struct rd_unit *units;
	size_t nunits, cap_units;
	struct u32vec alts;     /* first state of each alternative */
	struct u32vec start[256]; /* first states that take byte c */
	bool is_start[256];
};

struct rd_thread {
	uint32_t state;
	uint64_t start; /* absolute offset of the form's first byte */
};

struct rd_ival {
	uint64_t start, end;
};

struct redact_stream {
	struct redactor *r;
	struct rd_thread *cur, *next;
	size_t ncur, nnext;
	int32_t *slot;          /* state -> index in next, -1 when absent */
	size_t nslot;           /* states the arrays above are sized for */
	unsigned char *held;    /* bytes [base, pos) not yet released */
	size_t held_len, held_cap;
	uint64_t base, pos;
	struct rd_ival *iv;     /* matched spans inside [base, pos), sorted, disjoint */
	size_t niv, cap_iv;
	bool last_was_mask;     /* the last byte released was masked */
};

static _Atomic(struct redactor *) redact_global_ptr;

static void u32vec_push(struct u32vec *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	a->v[a->n++] = x;
}

int redactor_new(struct redactor **out)
{
	struct redactor *r = xcalloc(1, sizeof(*r));

	pthread_rwlock_init(&r->lock, NULL);
	atomic_init(&r->nvalues, 0);
	*out = r;
	return 0;
}

void redactor_free(struct redactor *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < atomic_load(&r->nvalues); i++)
		free(r->values[i]);
	for (size_t i = 0; i < r->nforms; i++)
		free(r->forms[i]);
	for (int c = 0; c < 256; c++)
		free(r->start[c].v);
	free(r->values);
	free(r->value_lens);
	free(r->forms);
	free(r->form_lens);
	free(r->states);
	free(r->units);
	free(r->alts.v);
	pthread_rwlock_destroy(&r->lock);
	free(r);
}

/* ---- building the forms ---- */

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static void add_state(struct redactor *r, unsigned char byte, bool ci)
{
	if (r->nstates == r->cap_states) {
		r->cap_states = r->cap_states ? r->cap_states * 2 : 256;
		r->states = xreallocarray(r->states, r->cap_states, sizeof(*r->states));
	}
	r->states[r->nstates].byte = ci ? lower(byte) : byte;
	r->states[r->nstates].ci = ci;
	r->states[r->nstates].next = RD_MORE;
	r->nstates++;
}

/* One alternative of the current unit: these bytes, exactly. */
static void add_alt(struct redactor *r, const unsigned char *bytes, size_t len)
{
	u32vec_push(&r->alts, (uint32_t)r->nstates);
	for (size_t i = 0; i < len; i++)
		add_state(r, bytes[i], false);
	r->units[r->nunits - 1].nalts++;
}

/*
 * One alternative of the current unit made of escapes: for each of vals,
 * lead ("%" or "\\u") then digits hex digits of it, which match either case.
 */
static void add_escape_alt(struct redactor *r, const char *lead, const uint32_t *vals,
			   size_t nvals, int digits)
{
	static const char hex[] = "0123456789abcdef";

	u32vec_push(&r->alts, (uint32_t)r->nstates);
	for (size_t k = 0; k < nvals; k++) {
		for (const char *p = lead; *p; p++)
			add_state(r, (unsigned char)*p, false);
		for (int d = digits - 1; d >= 0; d--)
			add_state(r, (unsigned char)hex[(vals[k] >> (4 * d)) & 0xf], true);
	}
	r->units[r->nunits - 1].nalts++;
}

static char json_short_escape(uint32_t cp)
{
	switch (cp) {
	case '"': return '"';
	case '\\': return '\\';
	case '/': return '/';
	case '\b': return 'b';
	case '\f': return 'f';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	default: return 0;
	}
}

/* The units of one form (a string as it would appear raw), each with its encodings. */
static void add_form(struct redactor *r, const unsigned char *s, size_t n)
{
	size_t first_unit = r->nunits, i = 0;

	if (n < REDACT_MIN_LEN)
		return; /* never: every form of a value >= REDACT_MIN_LEN is that long */
	for (size_t f = 0; f < r->nforms; f++)
		if (r->form_lens[f] == n && memcmp(r->forms[f], s, n) == 0)
			return;
	r->forms = xreallocarray(r->forms, r->nforms + 1, sizeof(*r->forms));
	r->form_lens = xreallocarray(r->form_lens, r->nforms + 1, sizeof(*r->form_lens));
	r->forms[r->nforms] = xmalloc(n);
	memcpy(r->forms[r->nforms], s, n);
	r->form_lens[r->nforms++] = n;

	while (i < n) {
		uint32_t cp = 0, bytes[4]; /* set when valid; gcc -O2 cannot see it */
		size_t bad, len = utf8_decode(s + i, n - i, &cp, &bad);
		bool valid = len > 0;

		if (len == 0)
			len = 1; /* a byte that is not UTF-8: raw or %XX only */
		if (r->nunits == r->cap_units) {
			r->cap_units = r->cap_units ? r->cap_units * 2 : 64;
			r->units = xreallocarray(r->units, r->cap_units, sizeof(*r->units));
		}
		r->units[r->nunits].first_alt = (uint32_t)r->alts.n;
		r->units[r->nunits].nalts = 0;
		r->nunits++;

		add_alt(r, s + i, len);
		if (!(len == 1 && is_alnum(s[i]))) {
			for (size_t k = 0; k < len; k++)
				bytes[k] = s[i + k];
			add_escape_alt(r, "%", bytes, len, 2);
			if (len == 1 && s[i] == ' ')
				add_alt(r, (const unsigned char *)"+", 1);
			if (valid) {
				char esc = json_short_escape(cp);

				if (cp >= 0x10000) {
					uint32_t pair[2] = { 0xd800 + ((cp - 0x10000) >> 10),
							     0xdc00 + ((cp - 0x10000) & 0x3ff) };
					add_escape_alt(r, "\\u", pair, 2, 4);
				} else {
					add_escape_alt(r, "\\u", &cp, 1, 4);
				}
				if (esc) {
					unsigned char e[2] = { '\\', (unsigned char)esc };
					add_alt(r, e, 2);
				}
			}
		}
		/* The last state of each alternative leads to the next unit. */
		for (uint32_t a = r->units[r->nunits - 1].first_alt; a < r->alts.n; a++) {
			uint32_t end = a + 1 < r->alts.n ? r->alts.v[a + 1] : (uint32_t)r->nstates;

			r->states[end - 1].next = (uint32_t)r->nunits;
		}
		i += len;
	}
	/* The form's last unit accepts. */
	{
		struct rd_unit *last = &r->units[r->nunits - 1];

		for (uint32_t a = last->first_alt; a < last->first_alt + last->nalts; a++) {
			uint32_t end = a + 1 < r->alts.n ? r->alts.v[a + 1] : (uint32_t)r->nstates;

			r->states[end - 1].next = RD_ACCEPT;
		}
	}
	/*
	 * Every first state of the first unit starts a thread on its byte. An
	 * alternative begins with its raw byte, '%', '\\' or '+', never with a
	 * hex digit, so one byte per first state is enough.
	 */
	{
		struct rd_unit *u = &r->units[first_unit];

		for (uint32_t a = u->first_alt; a < u->first_alt + u->nalts; a++) {
			uint32_t st = r->alts.v[a];
			unsigned char b = r->states[st].byte;

			u32vec_push(&r->start[b], st);
			r->is_start[b] = true;
		}
	}
}

static void base64(const unsigned char *in, size_t n, bool url, bool pad, struct buf *out)
{
	const char *abc = url ?
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" :
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		buf_putc(out, abc[v >> 18]);
		buf_putc(out, abc[(v >> 12) & 63]);
		buf_putc(out, abc[(v >> 6) & 63]);
		buf_putc(out, abc[v & 63]);
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

		buf_putc(out, abc[v >> 18]);
		buf_putc(out, abc[(v >> 12) & 63]);
		if (i + 1 < n)
			buf_putc(out, abc[(v >> 6) & 63]);
		if (pad)
			buf_puts(out, i + 1 < n ? "=" : "==");
	}
}

/* The forms of one value: raw/URL/JSON, and base64 whole and in each alignment. */
static void add_value(struct redactor *r, const unsigned char *v, size_t n)
{
	unsigned char *shifted = xmalloc(n + 2);
	struct buf b;

	for (size_t i = 0; i < atomic_load(&r->nvalues); i++)
		if (r->value_lens[i] == n && memcmp(r->values[i], v, n) == 0)
			goto out;
	add_form(r, v, n);
	buf_init(&b, RD_OUT_MAX);
	for (int url = 0; url <= 1; url++) {
		for (int pad = 0; pad <= 1; pad++) {
			buf_clear(&b);
			base64(v, n, url, pad, &b);
			add_form(r, (const unsigned char *)b.ptr, b.len);
		}
		/*
		 * V after a zero, one or two bytes of a 3-byte group: keep the
		 * characters whose 6 bits all come from V.
		 */
		for (size_t a = 0; a < 3; a++) {
			size_t first = (8 * a + 5) / 6, end = (8 * a + 8 * n) / 6;

			memset(shifted, 0, a);
			memcpy(shifted + a, v, n);
			buf_clear(&b);
			base64(shifted, n + a, url, false, &b);
			if (end > first && end - first >= REDACT_MIN_LEN)
				add_form(r, (const unsigned char *)b.ptr + first, end - first);
		}
	}
	buf_dispose(&b);
	r->values = xreallocarray(r->values, atomic_load(&r->nvalues) + 1, sizeof(*r->values));
	r->value_lens = xreallocarray(r->value_lens, atomic_load(&r->nvalues) + 1,
				      sizeof(*r->value_lens));
	r->values[atomic_load(&r->nvalues)] = xmalloc(n);
	memcpy(r->values[atomic_load(&r->nvalues)], v, n);
	r->value_lens[atomic_load(&r->nvalues)] = n;
	atomic_fetch_add(&r->nvalues, 1);
out:
	free(shifted);
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

int redact_add(struct redactor *r, const void *value, size_t len)
{
	const unsigned char *v = value;

	if (len < REDACT_MIN_LEN)
		return REDACT_SKIPPED;
	if (len > REDACT_MAX_LEN) {
		error_set("a secret value of %zu bytes is longer than the %d bytes the redactor takes",
			  len, REDACT_MAX_LEN);
		return DA_ETOOBIG;
	}
	pthread_rwlock_wrlock(&r->lock);
	add_value(r, v, len);
	if (memchr(v, '\n', len) || memchr(v, '\r', len)) {
		size_t i = 0;

		while (i < len) {
			size_t s = i, e;

			while (i < len && v[i] != '\n' && v[i] != '\r')
				i++;
			e = i;
			while (s < e && is_blank(v[s]))
				s++;
			while (e > s && is_blank(v[e - 1]))
				e--;
			if (e - s >= REDACT_MIN_LEN && e - s < len)
				add_value(r, v + s, e - s);
			i++;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	return 0;
}

int redact_add_str(struct redactor *r, const char *value)
{
	return redact_add(r, value, strlen(value));
}

size_t redact_count(struct redactor *r)
{
	return atomic_load(&r->nvalues);
}

/* ---- the stream ---- */

int redact_stream_new(struct redact_stream **out, struct redactor *r)
{
	struct redact_stream *st = xcalloc(1, sizeof(*st));

	st->r = r;
	*out = st;
	return 0;
}

void redact_stream_free(struct redact_stream *st)
{
	if (!st)
		return;
	free(st->cur);
	free(st->next);
	free(st->slot);
	free(st->held);
	free(st->iv);
	free(st);
}

size_t redact_stream_held(const struct redact_stream *st)
{
	return st->held_len;
}

/* Size the thread arrays for every state of the redactor (read lock held). */
static void stream_fit(struct redact_stream *st)
{
	size_t n = st->r->nstates;

	if (n <= st->nslot)
		return;
	st->cur = xreallocarray(st->cur, n, sizeof(*st->cur));
	st->next = xreallocarray(st->next, n, sizeof(*st->next));
	st->slot = xreallocarray(st->slot, n, sizeof(*st->slot));
	for (size_t i = st->nslot; i < n; i++)
		st->slot[i] = -1;
	st->nslot = n;
}

/* Mark [start, end) as matched; end is past every earlier interval's end. */
static void stream_cover(struct redact_stream *st, uint64_t start, uint64_t end)
{
	while (st->niv > 0 && st->iv[st->niv - 1].end >= start) {
		if (st->iv[st->niv - 1].start < start)
			start = st->iv[st->niv - 1].start;
		st->niv--;
	}
	if (st->niv == st->cap_iv) {
		st->cap_iv = st->cap_iv ? st->cap_iv * 2 : 16;
		st->iv = xreallocarray(st->iv, st->cap_iv, sizeof(*st->iv));
	}
	st->iv[st->niv].start = start;
	st->iv[st->niv].end = end;
	st->niv++;
}

static void stream_push(struct redact_stream *st, uint32_t state, uint64_t start)
{
	int32_t k = st->slot[state];

	if (k >= 0) {
		/* Threads are pushed in order of start, so this is only a guard. */
		if (start < st->next[k].start)
			st->next[k].start = start;
		return;
	}
	st->slot[state] = (int32_t)st->nnext;
	st->next[st->nnext].state = state;
	st->next[st->nnext].start = start;
	st->nnext++;
}

/* A thread in state s took the byte at offset at: move it on. */
static void stream_advance(struct redact_stream *st, uint32_t s, uint64_t start, uint64_t at)
{
	const struct redactor *r = st->r;
	uint32_t next = r->states[s].next;

	if (next == RD_MORE) {
		stream_push(st, s + 1, start);
	} else if (next == RD_ACCEPT) {
		stream_cover(st, start, at + 1);
	} else {
		const struct rd_unit *u = &r->units[next];

		for (uint32_t a = u->first_alt; a < u->first_alt + u->nalts; a++)
			stream_push(st, r->alts.v[a], start);
	}
}

/* Step every thread over byte c at offset at, and start new ones. */
static void stream_step(struct redact_stream *st, unsigned char c, uint64_t at)
{
	const struct redactor *r = st->r;
	const struct u32vec *starts = &r->start[c];
	struct rd_thread *tmp;

	st->nnext = 0;
	for (size_t k = 0; k < st->ncur; k++) {
		const struct rd_state *s = &r->states[st->cur[k].state];

		if (s->byte == (s->ci ? lower(c) : c))
			stream_advance(st, st->cur[k].state, st->cur[k].start, at);
	}
	for (size_t k = 0; k < starts->n; k++)
		stream_advance(st, starts->v[k], at, at);
	for (size_t k = 0; k < st->nnext; k++)
		st->slot[st->next[k].state] = -1;
	tmp = st->cur;
	st->cur = st->next;
	st->next = tmp;
	st->ncur = st->nnext;
}

static void emit_raw(struct redact_stream *st, struct buf *out, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_put(out, p, n);
	st->last_was_mask = false;
}

static void emit_masked(struct redact_stream *st, struct buf *out, size_t n)
{
	if (n == 0)
		return;
	if (!st->last_was_mask)
		buf_puts(out, REDACT_MASK);
	st->last_was_mask = true;
}

/* Release the held bytes before offset upto: raw or, where matched, the mask. */
static void stream_release(struct redact_stream *st, struct buf *out, uint64_t upto)
{
	uint64_t cur = st->base;
	size_t drop = 0, n = (size_t)(upto - st->base);

	if (n == 0)
		return;
	while (drop < st->niv && st->iv[drop].start < upto) {
		struct rd_ival *iv = &st->iv[drop];
		uint64_t cov_end = iv->end < upto ? iv->end : upto;

		emit_raw(st, out, st->held + (cur - st->base), (size_t)(iv->start - cur));
		emit_masked(st, out, (size_t)(cov_end - iv->start));
		cur = cov_end;
		if (iv->end > upto) {
			iv->start = upto;
			break;
		}
		drop++;
	}
	emit_raw(st, out, st->held + (cur - st->base), (size_t)(upto - cur));
	if (drop) {
		memmove(st->iv, st->iv + drop, (st->niv - drop) * sizeof(*st->iv));
		st->niv -= drop;
	}
	memmove(st->held, st->held + n, st->held_len - n);
	st->held_len -= n;
	st->base = upto;
}

/* The earliest start of a live thread, or pos when none is live. */
static uint64_t stream_keep_from(const struct redact_stream *st)
{
	uint64_t m = st->pos;

	for (size_t k = 0; k < st->ncur; k++)
		if (st->cur[k].start < m)
			m = st->cur[k].start;
	return m;
}

static void stream_hold(struct redact_stream *st, unsigned char c)
{
	if (st->held_len == st->held_cap) {
		st->held_cap = st->held_cap ? st->held_cap * 2 : 256;
		st->held = xrealloc(st->held, st->held_cap);
	}
	st->held[st->held_len++] = c;
}

/* The body of redact_stream_write, under the redactor's read lock. */
static void stream_feed(struct redact_stream *st, const unsigned char *p, size_t len,
			struct buf *out)
{
	const struct redactor *r = st->r;
	size_t i = 0;

	stream_fit(st);
	while (i < len) {
		if (st->ncur == 0) {
			size_t j = i;

			/* Nothing live: what is held is decided, and so is every byte up to a start. */
			stream_release(st, out, st->pos);
			while (j < len && !r->is_start[p[j]])
				j++;
			emit_raw(st, out, p + i, j - i);
			st->pos += j - i;
			st->base = st->pos;
			i = j;
			if (i == len)
				break;
		}
		stream_hold(st, p[i]);
		stream_step(st, p[i], st->pos);
		st->pos++;
		i++;
		if (st->held_len >= RD_RELEASE_AT)
			stream_release(st, out, stream_keep_from(st));
	}
	stream_release(st, out, stream_keep_from(st));
}

static int room_for(const struct buf *out, size_t n)
{
	if (out->max - out->len < n) {
		error_set("redaction output needs %zu bytes, its buffer has room for %zu",
			  n, out->max - out->len);
		return DA_ETOOBIG;
	}
	return 0;
}

int redact_stream_write(struct redact_stream *st, const void *data, size_t len,
			struct buf *out)
{
	int rc = room_for(out, st->held_len + len);

	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&st->r->lock);
	stream_feed(st, data, len, out);
	pthread_rwlock_unlock(&st->r->lock);
	return 0;
}

int redact_stream_finish(struct redact_stream *st, struct buf *out)
{
	int rc = room_for(out, st->held_len);

	if (rc < 0)
		return rc;
	/* No thread can complete any more: everything held is decided. */
	st->ncur = 0;
	stream_release(st, out, st->pos);
	st->niv = 0;
	st->base = st->pos = 0;
	st->last_was_mask = false;
	return 0;
}

/* ---- one-shot and global ---- */

int redact_mem(struct redactor *r, const void *data, size_t len, struct buf *out)
{
	struct redact_stream st;
	int rc;

	memset(&st, 0, sizeof(st));
	st.r = r;
	rc = redact_stream_write(&st, data, len, out);
	if (rc == 0)
		rc = redact_stream_finish(&st, out);
	free(st.cur);
	free(st.next);
	free(st.slot);
	free(st.held);
	free(st.iv);
	return rc;
}

char *redact_strdup(struct redactor *r, const char *s)
{
	struct buf b;

	buf_init(&b, RD_OUT_MAX);
	redact_mem(r, s, strlen(s), &b);
	return buf_detach(&b);
}

void redact_set_global(struct redactor *r)
{
	atomic_store(&redact_global_ptr, r);
}

struct redactor *redact_global(void)
{
	return atomic_load(&redact_global_ptr);
}

bool redact_global_active(void)
{
	struct redactor *r = atomic_load(&redact_global_ptr);

	return r && atomic_load(&r->nvalues) > 0;
}
