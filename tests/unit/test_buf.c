/* Unit tests for common/buf.c and common/error.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"

static void test_buf__appends_and_terminates(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_puts(&b, "abc"), 0);
	assert_int_equal(buf_printf(&b, "-%d-", 42), 0);
	assert_string_equal(buf_cstr(&b), "abc-42-");
	assert_int_equal(b.len, 7);
	buf_consume(&b, 4);
	assert_string_equal(buf_cstr(&b), "42-");
	buf_dispose(&b);
}

static void test_buf__refuses_past_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345678"), 0);
	assert_int_equal(buf_putc(&b, 'x'), DA_ETOOBIG);
	assert_int_equal(buf_printf(&b, "%s", "y"), DA_ETOOBIG);
	assert_string_equal(buf_cstr(&b), "12345678");
	assert_non_null(strstr(error_last(), "8 bytes"));
	buf_dispose(&b);
}

static void test_buf__detach_hands_over(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
	s = buf_detach(&b);
	assert_int_equal(strlen(s), 10000);
	assert_null(b.ptr);
	free(s);
}

static void test_error__every_code_has_text(void **state)
{
	(void)state;
	for (int code = 0; code >= DA_ERR_LAST; code--) {
		const char *text = da_strerror(code);
		assert_non_null(text);
		assert_true(strlen(text) > 0);
		assert_string_not_equal(text, "unknown error code");
	}
	assert_string_equal(da_strerror(-1000), "unknown error code");
}

static void test_error__prefix_keeps_message(void **state)
{
	(void)state;
	error_set("unknown key '%s'", "colour");
	error_prefix("%s:%d: ", "agent.conf", 7);
	assert_string_equal(error_last(), "agent.conf:7: unknown key 'colour'");
	error_clear();
	assert_string_equal(error_last(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf__appends_and_terminates),
		cmocka_unit_test(test_buf__refuses_past_max),
		cmocka_unit_test(test_buf__detach_hands_over),
		cmocka_unit_test(test_error__every_code_has_text),
		cmocka_unit_test(test_error__prefix_keeps_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
