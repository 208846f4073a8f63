/* utf8.c - strict UTF-8 decoding (see utf8.h). */
#include "utf8.h"

/*
 * Length of the valid UTF-8 sequence at s (n bytes available), 0 when it
 * is not one; *bad is then the length of the broken prefix to replace
 * (the "maximal subpart" of Unicode §3.9, at least 1). Sets *cp.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
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
