/*
 * fuzz.h - what every fuzz target shares: the libFuzzer entry point and a
 * reader that turns the fuzzer's bytes into structured choices.
 *
 * The reader never fails: past the end of the input every number is 0 and
 * every string empty, so any input, however short, is a valid case and the
 * corpus stays small (FuzzedDataProvider's rule, in C).
 */
#ifndef DA_FUZZ_H
#define DA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A private directory for targets whose loader reads files: on tmpfs when
 * there is one (an input is written per run), removed at exit. Never NULL.
 */
const char *fuzz_tmpdir(void);
/* Write len bytes to dir/name, replacing it; aborts on failure. */
void fuzz_write_file(const char *dir, const char *name, const void *data, size_t len);

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | fuzz_u8(in);
	return v;
}

/* Up to want bytes (fewer at the end of the input); *out points into the input. */
static inline size_t fuzz_bytes(struct fuzz_in *in, size_t want, const uint8_t **out)
{
	size_t n = want < in->n ? want : in->n;

	*out = in->p;
	in->p += n;
	in->n -= n;
	return n;
}

/* A fatal finding: print what and where, then abort so the fuzzer keeps the input. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif
