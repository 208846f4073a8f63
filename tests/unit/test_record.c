/* Unit tests for agent/record.c: the run record body of jenkins-api.md §7. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "buf.h"
#include "error.h"
#include "record.h"

#define HEAD "<run><log encoding=\"hexBinary\">"

static void test_record__writes_exact_bytes(void **state)
{
	struct record_writer *w;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(record_writer_new(&w), 0);
	assert_int_equal(record_open(w, &b), 0);
	assert_int_equal(record_log(w, &b, "line 1\n", 7), 0);
	assert_int_equal(record_keepalive(w, &b), 0);
	assert_int_equal(record_log(w, &b, "", 0), 0);
	assert_int_equal(record_log(w, &b, "line 2\n", 7), 0);
	assert_int_equal(record_close(w, &b, RECORD_SUCCESS, 84210, "v1.2.3 #q42",
	    "queue 42 on ghr-agent-01"), 0);
	assert_string_equal(buf_cstr(&b),
	    HEAD "6c696e6520310a<!----><!---->6c696e6520320a<!---->"
	    "</log><result>0</result><duration>84210</duration>"
	    "<displayName>v1.2.3 #q42</displayName>"
	    "<description>queue 42 on ghr-agent-01</description></run>");
	record_writer_free(w);
	buf_dispose(&b);
}

static void test_record__leaves_out_null_names(void **state)
{
	struct record_writer *w;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	record_writer_new(&w);
	assert_int_equal(record_open(w, &b), 0);
	assert_int_equal(record_close(w, &b, RECORD_FAILURE, 0, NULL, NULL), 0);
	assert_string_equal(buf_cstr(&b),
	    HEAD "</log><result>1</result><duration>0</duration></run>");
	record_writer_free(w);
	buf_dispose(&b);
}

static void test_record__every_byte_round_trips(void **state)
{
	struct record_writer *w;
	struct record_parsed p;
	unsigned char all[256];
	struct buf b;

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	buf_init(&b, 4096);
	record_writer_new(&w);
	assert_int_equal(record_open(w, &b), 0);
	assert_int_equal(record_log(w, &b, all, sizeof(all)), 0);
	assert_int_equal(record_close(w, &b, RECORD_SUCCESS, 5, NULL, NULL), 0);
	assert_int_equal(record_parse(b.ptr, b.len, &p), 0);
	assert_int_equal(p.log.len, 256);
	assert_memory_equal(p.log.ptr, all, 256);
	assert_int_equal(p.result, RECORD_SUCCESS);
	assert_int_equal(p.duration_ms, 5);
	assert_null(p.display_name);
	assert_null(p.description);
	record_parsed_dispose(&p);
	record_writer_free(w);
	buf_dispose(&b);
}

static void test_record__many_chunks_round_trip_without_whitespace(void **state)
{
	struct record_writer *w;
	struct record_parsed p;
	struct buf b, want;
	unsigned char chunk[3000];
	uint32_t seed = 12345;

	(void)state;
	buf_init(&b, 64 << 20);
	buf_init(&want, 64 << 20);
	record_writer_new(&w);
	assert_int_equal(record_keepalive(w, &b), 0); /* before <run>: a comment in the prolog */
	assert_int_equal(record_open(w, &b), 0);
	for (int i = 0; i < 2000; i++) {
		size_t n, before = b.len;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % sizeof(chunk);
		for (size_t j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			chunk[j] = (unsigned char)(seed >> 16);
		}
		assert_int_equal(record_log(w, &b, chunk, n), 0);
		assert_int_equal(b.len - before, record_hex_size(n));
		if (n > 0)
			assert_memory_equal(b.ptr + b.len - 7, "<!---->", 7);
		assert_int_equal(buf_put(&want, chunk, n), 0);
		if (i % 7 == 0)
			assert_int_equal(record_keepalive(w, &b), 0);
	}
	assert_int_equal(record_close(w, &b, RECORD_UNSTABLE, 1000, "name", NULL), 0);
	for (size_t i = 0; i < b.len; i++) {
		char c = b.ptr[i];

		if (c == ' ' && i >= 4 && memcmp(b.ptr + i - 4, "<log", 4) == 0)
			continue; /* the one space of the document, inside the <log> tag */
		assert_false(c == ' ' || c == '\t' || c == '\n' || c == '\r');
	}
	assert_int_equal(record_parse(b.ptr, b.len, &p), 0);
	assert_int_equal(p.log.len, want.len);
	assert_memory_equal(p.log.ptr, want.ptr, want.len);
	assert_int_equal(p.result, RECORD_UNSTABLE);
	assert_string_equal(p.display_name, "name");
	record_parsed_dispose(&p);
	record_writer_free(w);
	buf_dispose(&want);
	buf_dispose(&b);
}

/* The text of the first element called name, or NULL. New. */
static char *xml_text_of(xmlNode *n, const char *name)
{
	for (; n; n = n->next) {
		char *t;

		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
			return (char *)xmlNodeGetContent(n);
		if ((t = xml_text_of(n->children, name)))
			return t;
	}
	return NULL;
}

static void test_record__escapes_text_so_the_document_stays_xml(void **state)
{
	/* Markup, controls, CR LF, broken UTF-8 (bad lead, overlong, surrogate, cut), U+FFFE, valid UTF-8. */
	static const char name[] = "a<b&c>\"d' ]]> </run>";
	static const char desc[] = "x\x01y\tz\r\nq\xff\xc0\x80\xed\xa0\x80\xe2\x82" "A\xef\xbf\xbe \xc3\xa9\xf0\x9f\x98\x80\x1b";
#define FFFD "\xef\xbf\xbd"
	static const char want[] = "x" FFFD "y\tz\r\nq" FFFD FFFD FFFD FFFD FFFD FFFD FFFD "A" FFFD
	    " \xc3\xa9\xf0\x9f\x98\x80" FFFD;
#undef FFFD
	struct record_writer *w;
	struct record_parsed p;
	struct buf b;
	xmlDoc *doc;
	char *t;

	(void)state;
	buf_init(&b, 4096);
	record_writer_new(&w);
	assert_int_equal(record_open(w, &b), 0);
	assert_int_equal(record_log(w, &b, "ok\n", 3), 0);
	assert_int_equal(record_close(w, &b, RECORD_ABORTED, 7, name, desc), 0);
	assert_non_null(strstr(b.ptr, "<displayName>a&lt;b&amp;c&gt;&quot;d' ]]&gt; &lt;/run&gt;</displayName>"));

	doc = xmlReadMemory(b.ptr, (int)b.len, "record.xml", "UTF-8", XML_PARSE_NONET);
	assert_non_null(doc);
	assert_null(doc->intSubset);
	t = xml_text_of(xmlDocGetRootElement(doc), "displayName");
	assert_string_equal(t, name);
	xmlFree(t);
	t = xml_text_of(xmlDocGetRootElement(doc), "description");
	assert_string_equal(t, want);
	xmlFree(t);
	t = xml_text_of(xmlDocGetRootElement(doc), "result");
	assert_string_equal(t, "ABORTED");
	xmlFree(t);
	xmlFreeDoc(doc);

	assert_int_equal(record_parse(b.ptr, b.len, &p), 0);
	assert_string_equal(p.display_name, name);
	assert_string_equal(p.description, want);
	assert_int_equal(p.result, RECORD_ABORTED);
	assert_int_equal(p.log.len, 3);
	assert_memory_equal(p.log.ptr, "ok\n", 3);
	record_parsed_dispose(&p);
	record_writer_free(w);
	buf_dispose(&b);
}

static void test_record__refuses_calls_out_of_order(void **state)
{
	struct record_writer *w;
	struct buf b;
	size_t len;

	(void)state;
	buf_init(&b, 4096);
	record_writer_new(&w);
	error_clear();
	assert_int_equal(record_log(w, &b, "x", 1), DA_EINVALID);
	assert_non_null(strstr(error_last(), "not opened"));
	assert_int_equal(record_close(w, &b, RECORD_SUCCESS, 0, NULL, NULL), DA_EINVALID);
	assert_int_equal(b.len, 0);
	assert_int_equal(record_open(w, &b), 0);
	len = b.len;
	assert_int_equal(record_open(w, &b), DA_EINVALID);
	assert_int_equal(b.len, len);
	assert_int_equal(record_close(w, &b, RECORD_SUCCESS, 0, NULL, NULL), 0);
	len = b.len;
	error_clear();
	assert_int_equal(record_log(w, &b, "x", 1), DA_EINVALID);
	assert_non_null(strstr(error_last(), "closed"));
	assert_int_equal(record_log(w, &b, "", 0), DA_EINVALID);
	assert_int_equal(record_keepalive(w, &b), DA_EINVALID);
	assert_int_equal(record_close(w, &b, RECORD_SUCCESS, 0, NULL, NULL), DA_EINVALID);
	assert_int_equal(record_open(w, &b), DA_EINVALID);
	assert_int_equal(b.len, len);
	record_writer_free(w);
	record_writer_free(NULL);
	buf_dispose(&b);
}

static void test_record__size_cap_is_too_big_and_all_or_nothing(void **state)
{
	struct record_writer *w;
	struct record_parsed p;
	struct buf b, sent;

	(void)state;
	assert_int_equal(record_hex_size(0), 0);
	assert_int_equal(record_hex_size(3), 13);
	assert_int_equal(record_hex_size(SIZE_MAX), SIZE_MAX);
	assert_int_equal(record_hex_size(SIZE_MAX / 2), SIZE_MAX);
	buf_init(&b, 40);
	buf_init(&sent, 4096);
	record_writer_new(&w);
	assert_int_equal(record_open(w, &b), 0);                /* 31 bytes */
	assert_int_equal(record_log(w, &b, "abcd", 4), DA_ETOOBIG); /* 15 more */
	assert_int_equal(b.len, 31);
	assert_int_equal(record_log(w, &b, "a", 1), 0);          /* 9 more: exactly 40 */
	assert_int_equal(b.len, 40);
	assert_int_equal(record_keepalive(w, &b), DA_ETOOBIG);
	assert_int_equal(record_close(w, &b, RECORD_SUCCESS, 1, "n", "d"), DA_ETOOBIG);
	assert_int_equal(b.len, 40);
	/* The caller sends what it has and tries again: the writer did not move. */
	buf_put(&sent, b.ptr, b.len);
	buf_clear(&b);
	assert_int_equal(record_log(w, &b, "bcd", 3), 0);
	buf_put(&sent, b.ptr, b.len);
	/* The tail (80 bytes) never fits in 40: the caller needs a bigger buffer for it. */
	buf_dispose(&b);
	buf_init(&b, 80);
	assert_int_equal(record_close(w, &b, RECORD_SUCCESS, 1, NULL, "d"), 0);
	assert_int_equal(b.len, 80);
	buf_put(&sent, b.ptr, b.len);
	assert_int_equal(record_parse(sent.ptr, sent.len, &p), 0);
	assert_int_equal(p.log.len, 4);
	assert_memory_equal(p.log.ptr, "abcd", 4);
	assert_string_equal(p.description, "d");
	record_parsed_dispose(&p);
	record_writer_free(w);
	buf_dispose(&sent);
	buf_dispose(&b);
}

static void parse_log_equal(const char *log_xml, const char *want, size_t want_len)
{
	struct record_parsed p;
	struct buf b;

	buf_init(&b, 4096);
	buf_printf(&b, HEAD "%s</log><result>0</result></run>", log_xml);
	assert_int_equal(record_parse(b.ptr, b.len, &p), 0);
	assert_int_equal(p.log.len, want_len);
	assert_memory_equal(p.log.ptr, want, want_len);
	record_parsed_dispose(&p);
	buf_dispose(&b);
}

static void test_record__parse_reproduces_decodingstream_corruption(void **state)
{
	(void)state;
	/* §7.2 step 4: whitespace is nibble -1 and shifts every later pair; the odd nibble is lost. */
	parse_log_equal("6869\n0a<!---->", "hi\xf0", 3);
	parse_log_equal("68 69<!---->", "h\xf6", 2);
	/* CR LF is one LF after XML's line-end normalization. */
	parse_log_equal("68\r\n69<!---->", "h\xf6", 2);
	/* The odd nibble is kept across events: text, comment, CDATA. */
	parse_log_equal("6<!---->8<![CDATA[69]]>", "hi", 2);
	/* Uppercase works; letters past f are not validated (g = 16). */
	parse_log_equal("6C6cg1", "ll\x01", 3);
	/* Character references are text too. */
	parse_log_equal("&#x36;8&#54;&#x39;", "hi", 2);
}

static void test_record__parse_reads_results_as_jenkins(void **state)
{
	static const struct { const char *text; enum record_result want; } cases[] = {
		{ "0", RECORD_SUCCESS }, { "+0", RECORD_SUCCESS }, { "-0", RECORD_SUCCESS },
		{ "1", RECORD_FAILURE }, { "-1", RECORD_FAILURE }, { "137", RECORD_FAILURE },
		{ "99999999999", RECORD_FAILURE }, { "success", RECORD_SUCCESS },
		{ "Unstable", RECORD_UNSTABLE }, { "ABORTED", RECORD_ABORTED },
		{ "not_built", RECORD_NOT_BUILT }, { "bogus", RECORD_FAILURE }, { "", RECORD_FAILURE },
	};
	static const enum record_result all[] = {
		RECORD_SUCCESS, RECORD_UNSTABLE, RECORD_FAILURE, RECORD_NOT_BUILT, RECORD_ABORTED,
	};
	struct record_parsed p;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_clear(&b);
		buf_printf(&b, HEAD "</log><result>%s</result><!-- c --><duration>12</duration></run>",
		    cases[i].text);
		assert_int_equal(record_parse(b.ptr, b.len, &p), 0);
		assert_int_equal(p.result, cases[i].want);
		assert_int_equal(p.duration_ms, 12);
		record_parsed_dispose(&p);
	}
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct record_writer *w;

		buf_clear(&b);
		record_writer_new(&w);
		assert_int_equal(record_open(w, &b), 0);
		assert_int_equal(record_close(w, &b, all[i], ULONG_MAX, NULL, NULL), 0);
		assert_int_equal(record_parse(b.ptr, b.len, &p), 0);
		assert_int_equal(p.result, all[i]);
		assert_true(p.duration_ms == INT64_MAX); /* clamped to Long.MAX_VALUE */
		record_parsed_dispose(&p);
		record_writer_free(w);
	}
	buf_dispose(&b);
}

static void test_record__parse_refuses_what_jenkins_fails(void **state)
{
	static const char *const bad[] = {
		"",
		"<run>",
		HEAD "6869",
		HEAD "68</log>",
		HEAD "</log><result>0</result>",
		"<!DOCTYPE run [<!ENTITY x \"y\">]>" HEAD "</log><result>0</result></run>",
		HEAD "&x;</log><result>0</result></run>",
		HEAD "&#0;</log><result>0</result></run>",
		HEAD "&#xD800;</log><result>0</result></run>",
		HEAD "&#x;</log><result>0</result></run>",
		HEAD "&#12a;</log><result>0</result></run>",
		HEAD "&#x110000;</log><result>0</result></run>",
		HEAD "\x01</log><result>0</result></run>",
		HEAD "</log><result>0</result><duration>abc</duration></run>",
		HEAD "</log><result>0</result><duration>9223372036854775808</duration></run>",
		/* 2^64 and 2^64 + 1: wrapped past the range back to 0 and 1 before the fix. */
		HEAD "</log><result>0</result><duration>18446744073709551616</duration></run>",
		HEAD "</log><result>0</result><duration>18446744073709551617</duration></run>",
		HEAD "</log><result><x/></result></run>",
		HEAD "</log><result>0</result></runs>",
		HEAD "</log>junk<result>0</result></run>",
		HEAD "<!-- a -- b --></log><result>0</result></run>",
		/* A child's end tag ends the log loop; then </log> is no <result> (§7.2 step 3). */
		HEAD "68<x>69</x></log><result>0</result></run>",
		"<r><l></l><result>0</result></r><run></run>",
	};
	/* Tolerated as Jenkins does: declaration, whitespace between tags, other names, trailing bytes. */
	static const char ok[] = "<?xml version=\"1.0\"?>\n<run>\n<l a='1'>61<!----></l>\n<result>0</result>"
	    "\n<other/><description>d&amp;e</description></run> trailing <";
	struct record_parsed p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error_clear();
		assert_int_equal(record_parse(bad[i], strlen(bad[i]), &p), DA_EINVALID);
		assert_true(error_last()[0] != '\0');
		assert_null(p.log.ptr);
		assert_null(p.display_name);
	}
	assert_int_equal(record_parse(ok, strlen(ok), &p), 0);
	assert_int_equal(p.log.len, 1);
	assert_int_equal(p.log.ptr[0], 'a');
	assert_string_equal(p.description, "d&e");
	record_parsed_dispose(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record__writes_exact_bytes),
		cmocka_unit_test(test_record__leaves_out_null_names),
		cmocka_unit_test(test_record__every_byte_round_trips),
		cmocka_unit_test(test_record__many_chunks_round_trip_without_whitespace),
		cmocka_unit_test(test_record__escapes_text_so_the_document_stays_xml),
		cmocka_unit_test(test_record__refuses_calls_out_of_order),
		cmocka_unit_test(test_record__size_cap_is_too_big_and_all_or_nothing),
		cmocka_unit_test(test_record__parse_reproduces_decodingstream_corruption),
		cmocka_unit_test(test_record__parse_reads_results_as_jenkins),
		cmocka_unit_test(test_record__parse_refuses_what_jenkins_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
