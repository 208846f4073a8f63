/*
 * sdnotify.h - tell systemd what the agent is doing (sd_notify(3)) without
 * linking libsystemd: one datagram to $NOTIFY_SOCKET, "READY=1",
 * "STATUS=...", "STOPPING=1". Without NOTIFY_SOCKET (not under systemd,
 * or Type= is not notify) it does nothing. Errors are ignored on purpose:
 * a missing listener must never stop the agent.
 */
#ifndef DA_SDNOTIFY_H
#define DA_SDNOTIFY_H

/* Send a printf-formatted message (newline-separated assignments). */
void sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
