/* xmltext.c - escaped XML text (see xmltext.h). */
#include "xmltext.h"

#include <string.h>

/* Append U+FFFD, the stand-in for anything XML 1.0 cannot carry. */
int xml_replacement_put(struct buf *b)
{
	return buf_put(b, "\xef\xbf\xbd", 3);
}

/*
 * Length of the valid UTF-8 sequence at s (n bytes available), 0 when it
 * is not one; *bad is then the length of the broken prefix to replace
 * (the "maximal subpart" of Unicode §3.9, at least 1). Sets *cp.
 */
size_t xml_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
{
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t c;

	*bad = 1;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		/* No overlong forms, no surrogates. */
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		/* No overlong forms, nothing past U+10FFFF. */
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		c = c << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = c;
	return len;
}

/* Whether XML 1.0 allows code point c in a document (production Char). */
bool xml_char_ok(uint32_t c)
{
	if (c < 0x20)
		return c == '\t' || c == '\n' || c == '\r';
	return c != 0xfffe && c != 0xffff;
}

/* Append s as XML character data that can never end or break the document. */
int xml_text_put(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len, bad;
	uint32_t c;
	int rc = 0;

	while (i < n && rc == 0) {
		len = xml_utf8_decode(p + i, n - i, &c, &bad);
		if (len == 0 || !xml_char_ok(c)) {
			rc = xml_replacement_put(b);
			i += len == 0 ? bad : len;
			continue;
		}
		switch (c) {
		case '&':
			rc = buf_puts(b, "&amp;");
			break;
		case '<':
			rc = buf_puts(b, "&lt;");
			break;
		case '>':
			/* Also keeps "]]>" out of the text. */
			rc = buf_puts(b, "&gt;");
			break;
		case '"':
			rc = buf_puts(b, "&quot;");
			break;
		case '\r':
			/* A literal CR would come back as LF (XML 1.0 §2.11). */
			rc = buf_puts(b, "&#13;");
			break;
		default:
			rc = buf_put(b, p + i, len);
			break;
		}
		i += len;
	}
	return rc;
}

