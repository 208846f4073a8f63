/*
 * fuzz_queue.c - the Jenkins queue and queue-item answers (agent/jenkins.c)
 * on any bytes: whatever Jenkins, a proxy or an attacker in between sends,
 * the parser either refuses it with a message or returns items that keep
 * jenkins.h's promises: a non-negative id, a non-empty full name, a
 * NULL-terminated parameter list as long as param_count whose entries are
 * "NAME=VALUE" with a non-empty name free of '=', and no NUL inside.
 * The item-state parser gets the same bytes.
 */
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "jenkins.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jenkins_queue q;
	enum jenkins_item_state st;
	int rc = jenkins_queue_parse((const char *)data, size, "fuzz", &q);

	if (rc != 0) {
		FUZZ_CHECK(rc == DA_EINVALID);
		FUZZ_CHECK(error_last()[0] != '\0');
		FUZZ_CHECK(q.count == 0);
	}
	for (size_t i = 0; i < q.count; i++) {
		const struct jenkins_queue_item *it = &q.items[i];
		size_t n = 0;

		FUZZ_CHECK(it->id >= 0);
		FUZZ_CHECK(it->full_name != NULL && it->full_name[0] != '\0');
		FUZZ_CHECK(it->params != NULL);
		while (it->params[n])
			n++;
		FUZZ_CHECK(n == it->param_count);
		for (size_t k = 0; k < n; k++) {
			const char *eq = strchr(it->params[k], '=');

			FUZZ_CHECK(eq != NULL && eq != it->params[k]);
		}
	}
	jenkins_queue_dispose(&q);
	rc = jenkins_queue_item_state_parse((const char *)data, size, &st);
	FUZZ_CHECK(rc == 0 || rc == DA_EINVALID);
	if (rc == 0)
		FUZZ_CHECK(st == JENKINS_ITEM_QUEUED || st == JENKINS_ITEM_CANCELLED ||
			   st == JENKINS_ITEM_STARTED);
	return 0;
}
