/* sleep.h - let a unit test wait a while. */
#ifndef DA_TEST_SLEEP_H
#define DA_TEST_SLEEP_H

/* Sleep ms milliseconds, the whole of them even when a signal comes. */
void sleep_ms(unsigned ms);

#endif
