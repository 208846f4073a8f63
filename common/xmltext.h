/*
 * xmltext.h - text that can go into an XML document we write, whatever it
 * contains.
 *
 * Jenkins reads what we send as XML (a run record's displayName and
 * description, job and node config.xml), and text from outside (a tag, a
 * description from the catalog, a user name) could otherwise end or break
 * the document. Characters XML 1.0 does not allow (control characters other
 * than TAB, LF and CR, U+FFFE, U+FFFF) and invalid UTF-8 become U+FFFD.
 */
#ifndef DA_XMLTEXT_H
#define DA_XMLTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Append s as character data (usable in attribute values too): &, <, >
 * and " escaped, CR as &#13; so it survives XML's line-end normalization.
 * DA_ETOOBIG past b's max (b may then hold part of s).
 */
int xml_text_put(struct buf *b, const char *s);
/* Append U+FFFD. */
int xml_replacement_put(struct buf *b);
/* Whether XML 1.0 allows code point c in a document (production Char). */
bool xml_char_ok(uint32_t c);

#endif
