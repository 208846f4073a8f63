/*
 * spew - the child of the log throughput benchmark: prints BYTES of text
 * lines to stdout as fast as it can, then writes its own wall time.
 *
 * Usage: spew BYTES TIMEFILE [LINE_LEN [WRITE_SIZE]]
 *
 * Lines are LINE_LEN bytes (default 100) with a running number, built once
 * in a 1 MiB block that is written WRITE_SIZE bytes at a time (default
 * 64 KiB, a pipe's capacity; LINE_LEN makes one write per line, as a child
 * that flushes every line does), so the child costs next to nothing itself and its wall time shows how
 * long whatever reads its stdout kept it waiting. TIMEFILE gets
 * "BYTES NANOSECONDS" (stderr would go into the same pipe as stdout).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPEW_BLOCK (1024 * 1024)
#define SPEW_WRITE (64 * 1024)

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long long total, left, t0, t1;
	size_t line_len = 100, write_size = SPEW_WRITE, off = 0;
	char *block;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: spew BYTES TIMEFILE [LINE_LEN [WRITE_SIZE]]\n");
		return 2;
	}
	total = strtoull(argv[1], NULL, 10);
	if (argc > 3)
		line_len = strtoul(argv[3], NULL, 10);
	if (line_len < 24 || line_len > SPEW_BLOCK)
		line_len = 100;
	if (argc > 4)
		write_size = strtoul(argv[4], NULL, 10);
	if (write_size == 0 || write_size > SPEW_BLOCK)
		write_size = SPEW_WRITE;
	block = malloc(SPEW_BLOCK);
	if (!block)
		return 1;
	for (size_t i = 0; i + line_len <= SPEW_BLOCK; i += line_len) {
		int n = snprintf(block + i, line_len, "spew line %012zu ", i / line_len);

		memset(block + i + n, 'a' + (int)(i / line_len % 26), line_len - 1 - (size_t)n);
		block[i + line_len - 1] = '\n';
	}
	/* Only whole lines in the block; the tail of the block repeats from its start. */
	size_t usable = SPEW_BLOCK / line_len * line_len;

	t0 = now_ns();
	for (left = total; left > 0;) {
		size_t n = left < write_size ? (size_t)left : write_size;
		ssize_t w;

		if (n > usable - off)
			n = usable - off;
		w = write(1, block + off, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		left -= (unsigned long long)w;
		off = (off + (size_t)w) % usable;
	}
	t1 = now_ns();
	f = fopen(argv[2], "w");
	if (!f || fprintf(f, "%llu %llu\n", total, t1 - t0) < 0 || fclose(f) != 0)
		return 1;
	free(block);
	return 0;
}
