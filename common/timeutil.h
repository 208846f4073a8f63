/* timeutil.h - clocks and durations. */
#ifndef DA_TIMEUTIL_H
#define DA_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
uint64_t time_mono_ms(void);
/* Milliseconds since the epoch (wall clock: for records that outlive the process). */
long long time_wall_ms(void);
/* clock's now plus ms, as a pthread_cond_timedwait deadline. */
struct timespec time_deadline(clockid_t clock, unsigned ms);
/* "850 ms", "12.3 s", "4 min 05 s" into buf. */
const char *time_format_duration(char *buf, size_t size, uint64_t ms);

#endif
