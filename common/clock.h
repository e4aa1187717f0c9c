/*
 * clock.h - the two clocks the service reads: wall time for what leaves the
 * process (timestamps in events and logs, freshness shared through Redis)
 * and monotonic time for durations, timeouts and backoff, which must not
 * jump when the wall clock is stepped.
 *
 * Thread-safety: reentrant.
 */
#ifndef APIVECTOR_CLOCK_H
#define APIVECTOR_CLOCK_H

#include <stdint.h>

/* Unix time in milliseconds (CLOCK_REALTIME). */
int64_t clockWallMs(void);

/* Milliseconds of CLOCK_MONOTONIC, for intervals and deadlines. */
int64_t clockMonoMs(void);

/* The same with sub-millisecond precision, for stage timings. */
double clockMonoMsPrecise(void);

#endif
