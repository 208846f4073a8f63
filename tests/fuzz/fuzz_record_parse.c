/*
 * fuzz_record_parse.c - the <run> record decoder (agent/record.c) on any bytes.
 *
 * record_parse reads bodies that tests and the Jenkins double compare with
 * what the agent sent, so it must never crash or overread on a broken one.
 * When it accepts a body, writing what it read back out with the writer
 * and decoding that again must give the same log, result and duration: the
 * decoder and the writer agree on every body the decoder accepts.
 */
#include <limits.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "fuzz.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record_parsed p, again;
	struct record_writer *w;
	struct buf body;

	if (record_parse((const char *)data, size, &p) != 0) {
		FUZZ_CHECK(error_last()[0] != '\0');
		FUZZ_CHECK(p.log.len == 0 && !p.display_name && !p.description);
		error_clear();
		return 0;
	}
	buf_init(&body, 64 << 20);
	record_writer_new(&w);
	FUZZ_CHECK(record_open(w, &body) == 0);
	FUZZ_CHECK(record_log(w, &body, p.log.ptr, p.log.len) == 0);
	FUZZ_CHECK(record_close(w, &body, p.result,
				p.duration_ms < 0 ? 0 : (unsigned long)p.duration_ms,
				p.display_name, p.description) == 0);
	FUZZ_CHECK(record_parse(body.ptr, body.len, &again) == 0);
	FUZZ_CHECK(again.log.len == p.log.len);
	FUZZ_CHECK(p.log.len == 0 || memcmp(again.log.ptr, p.log.ptr, p.log.len) == 0);
	FUZZ_CHECK(again.result == p.result);
	FUZZ_CHECK(again.duration_ms == (p.duration_ms < 0 ? 0 : p.duration_ms));
	FUZZ_CHECK(!p.display_name == !again.display_name);
	FUZZ_CHECK(!p.description == !again.description);
	record_parsed_dispose(&again);
	record_parsed_dispose(&p);
	record_writer_free(w);
	buf_dispose(&body);
	error_clear();
	return 0;
}
