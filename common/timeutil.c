/* timeutil.c - clocks and durations. */
#include "timeutil.h"

#include <stdio.h>
#include <time.h>

uint64_t time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

long long time_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec time_deadline(clockid_t clock, unsigned ms)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

const char *time_format_duration(char *buf, size_t size, uint64_t ms)
{
	if (ms < 1000)
		snprintf(buf, size, "%llu ms", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(buf, size, "%.1f s", (double)ms / 1000.0);
	else
		snprintf(buf, size, "%llu min %02llu s", (unsigned long long)(ms / 60000),
			 (unsigned long long)(ms / 1000 % 60));
	return buf;
}
