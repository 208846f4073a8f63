/* sleep.c - let a unit test wait a while (see sleep.h). */
#include "sleep.h"

#include <errno.h>
#include <time.h>

void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
