/*
 * backoff.c - equal-jitter exponential backoff (see backoff.h).
 *
 * splitmix64 is enough here: the jitter only has to decorrelate clients, it
 * is not a secret, and it needs no locking because the state is the caller's.
 */
#include "backoff.h"

#include <errno.h>
#include <time.h>

uint64_t backoffRandom(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void backoffInit(backoff *b, uint32_t base_ms, uint32_t max_ms, uint64_t seed) {
    b->state = seed;
    b->base_ms = base_ms ? base_ms : 1;
    b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
    b->attempt = 0;
}

void backoffReset(backoff *b) {
    b->attempt = 0;
}

uint32_t backoffNext(backoff *b) {
    uint64_t cap = b->base_ms;
    /* Stop doubling once past max_ms so the shift can never overflow. */
    for (uint32_t i = 0; i < b->attempt && cap < b->max_ms; i++)
        cap *= 2;
    if (cap > b->max_ms)
        cap = b->max_ms;
    if (b->attempt < UINT32_MAX)
        b->attempt++;
    uint64_t half = cap / 2;
    uint64_t span = cap - half + 1;
    return (uint32_t)(half + backoffRandom(&b->state) % span);
}

void backoffSleepMs(uint32_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
