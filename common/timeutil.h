/* timeutil.h - clocks and durations. */
#ifndef DA_TIMEUTIL_H
#define DA_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock. */
uint64_t time_mono_ms(void);
/* Milliseconds since the epoch (wall clock: for records that outlive the process). */
long long time_wall_ms(void);
/* "850 ms", "12.3 s", "4 min 05 s" into buf. */
const char *time_format_duration(char *buf, size_t size, uint64_t ms);

#endif
