/*
 * backoff.h - exponential backoff with jitter for retrying transient failures.
 *
 * Delay n (n = 0, 1, ...) is drawn uniformly from [cap/2, cap] where
 * cap = min(max_ms, base_ms * 2^n) ("equal jitter"): it grows like plain
 * exponential backoff but spreads many clients that failed at the same moment
 * (50 pods after a support-server restart) so they do not retry in lockstep,
 * and never waits less than half the nominal delay.
 *
 * The random state lives in the caller's backoff struct and is seeded by the
 * caller, so there is no global RNG and a test can replay a sequence.
 * Thread-safety: none inside; use one backoff per retry loop.
 */
#ifndef APIVECTOR_BACKOFF_H
#define APIVECTOR_BACKOFF_H

#include <stdint.h>

typedef struct backoff {
    uint64_t state; /* splitmix64 state */
    uint32_t base_ms;
    uint32_t max_ms;
    uint32_t attempt; /* delays handed out since the last reset */
} backoff;

/* Prepares a backoff; base_ms 0 is taken as 1, max_ms below base_ms as base_ms. */
void backoffInit(backoff *b, uint32_t base_ms, uint32_t max_ms, uint64_t seed);

/* Returns the next delay in milliseconds and advances the attempt count. */
uint32_t backoffNext(backoff *b);

/* Starts the sequence again from base_ms (after a success). */
void backoffReset(backoff *b);

/* Next pseudo-random 64-bit value from *state (splitmix64); not for secrets. */
uint64_t backoffRandom(uint64_t *state);

/* Sleeps ms milliseconds, resuming after signal interruptions. */
void backoffSleepMs(uint32_t ms);

#endif
