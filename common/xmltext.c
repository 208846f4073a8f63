/* xmltext.c - escaped XML text (see xmltext.h). */
#include "xmltext.h"

#include <string.h>

#include "utf8.h"

/* Append U+FFFD, the stand-in for anything XML 1.0 cannot carry. */
int xml_replacement_put(struct buf *b)
{
	return buf_put(b, "\xef\xbf\xbd", 3);
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
		len = utf8_decode(p + i, n - i, &c, &bad);
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

