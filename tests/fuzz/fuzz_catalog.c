/*
 * fuzz_catalog.c - the catalog loader (agent/catalog.c) on any bytes.
 *
 * catalog_load reads a directory, so the input is written there as files:
 * split at NUL bytes (which no XML file may hold) into up to four files,
 * so cross-file rules (sequences naming operations, inputs naming another
 * operation's outputs, duplicate paths) are reached too. A loaded catalog
 * must keep its documented promises: every operation is found by its own
 * path, every parameter by its name, every sequence by its name and every
 * path of a sequence is an operation of the catalog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "error.h"
#include "fuzz.h"

#define FILES_MAX 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_tmpdir();
	struct catalog *cat = NULL;
	size_t start = 0;
	int nfiles = 0;

	for (int i = 0; i < FILES_MAX; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/f%d.xml", dir, i);
		unlink(path);
	}
	while (nfiles < FILES_MAX && start <= size) {
		const uint8_t *nul = memchr(data + start, '\0', size - start);
		size_t end = nul && nfiles < FILES_MAX - 1 ? (size_t)(nul - data) : size;
		char name[32];

		snprintf(name, sizeof(name), "f%d.xml", nfiles++);
		fuzz_write_file(dir, name, data + start, end - start);
		start = end + 1;
	}
	if (catalog_load(&cat, dir) == 0) {
		if (getenv("DA_FUZZ_VERBOSE"))
			fprintf(stderr, "loaded: %zu operations, %zu sequences\n",
				cat->op_count, cat->sequence_count);
		for (size_t i = 0; i < cat->op_count; i++) {
			const struct catalog_operation *op = &cat->ops[i];

			FUZZ_CHECK(catalog_find(cat, op->path) == op);
			for (size_t k = 0; k < op->param_count; k++) {
				const struct catalog_param *p = catalog_param_find(op, op->params[k].name);

				FUZZ_CHECK(p && strcmp(p->name, op->params[k].name) == 0);
			}
			if (catalog_ref_param(op))
				FUZZ_CHECK(catalog_ref_param(op)->is_ref);
		}
		for (size_t i = 0; i < cat->sequence_count; i++) {
			const struct catalog_sequence *seq = &cat->sequences[i];

			FUZZ_CHECK(catalog_sequence_find(cat, seq->name) != NULL);
			for (size_t k = 0; k < seq->count; k++)
				FUZZ_CHECK(catalog_find(cat, seq->paths[k]) != NULL);
		}
		catalog_free(cat);
	} else {
		/* A refusal always says why. */
		FUZZ_CHECK(error_last()[0] != '\0');
		if (getenv("DA_FUZZ_VERBOSE"))
			fprintf(stderr, "refused: %.300s\n", error_last());
	}
	error_clear();
	return 0;
}
