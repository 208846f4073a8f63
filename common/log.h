/*
 * log.h - the agent's own log (not a run's log: that goes to the spool).
 *
 * Lines go to stderr as "TIME LEVEL message". The level is checked before
 * the arguments are formatted (redis's serverLog), and control bytes from
 * outside are escaped so that a child or a server cannot forge a line.
 * Secret values are masked before anything else (the global redactor of
 * common/redact.h), and only then is a message cut to its 4096 bytes.
 */
#ifndef DA_LOG_H
#define DA_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) do { if (log_enabled(LOG_ERROR)) log_write(LOG_ERROR, __VA_ARGS__); } while (0)
#define log_warn(...) do { if (log_enabled(LOG_WARN)) log_write(LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...) do { if (log_enabled(LOG_INFO)) log_write(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
