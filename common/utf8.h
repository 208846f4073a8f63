/*
 * utf8.h - strict UTF-8 decoding, for everything that must tell text from
 * bytes: the XML writer (what XML may carry), the record decoder, and the
 * redactor (which forms of a secret are text).
 */
#ifndef DA_UTF8_H
#define DA_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length of the valid UTF-8 sequence at s (n >= 1 bytes available): no
 * overlong forms, no surrogates, nothing past U+10FFFF. 0 when it is not
 * one; *bad is then the length of the broken prefix to replace (the
 * "maximal subpart" of Unicode §3.9, at least 1). Sets *cp.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad);

#endif
