/*
 * tracker.c - in-flight offsets per partition and in-order commits (see
 * tracker.h).
 *
 * Each partition keeps a ring buffer of {offset, bytes, done} in receive
 * order. Offsets only grow within an epoch, so the ring is sorted and a
 * completion finds its entry by binary search; popping done entries off the
 * front is what advances the commit position. The ring doubles when full; it
 * holds at most the in-flight messages of one partition (bounded by the
 * backpressure limits plus librdkafka's prefetch).
 */
#include "tracker.h"

#include <stdlib.h>
#include <string.h>

typedef struct tracker_entry {
    int64_t offset;
    uint64_t bytes;
    bool done;
} tracker_entry;

struct tracker_part {
    char *topic;
    int32_t partition;
    uint32_t epoch;
    bool assigned;
    bool revoking;
    bool paused; /* as applied by the runtime */
    int retrying;
    int away;

    tracker_entry *ring; /* capacity cap (a power of two), count entries from head */
    size_t cap, head, count;
    int64_t last_received; /* highest offset received this epoch, -1 none */
    int64_t commit_pos;    /* next offset to commit, -1 none */

    int64_t committed;   /* confirmed by the broker (or known at assignment) */
    int64_t commit_sent; /* offset of the last commit sent, -1 none */
    int64_t commit_sent_ms;
    int64_t end; /* until-end watermark, -1 none */
};

struct tracker {
    tracker_part **parts;
    size_t nparts, capparts;
    int64_t inflight_events, inflight_bytes;
    bool backpressure;
};

tracker *trackerNew(void) {
    return calloc(1, sizeof(tracker));
}

static void trackerPartFree(tracker_part *p) {
    free(p->topic);
    free(p->ring);
    free(p);
}

void trackerFree(tracker *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++)
        trackerPartFree(t->parts[i]);
    free(t->parts);
    free(t);
}

tracker_part *trackerFind(const tracker *t, const char *topic, int32_t partition) {
    for (size_t i = 0; i < t->nparts; i++) {
        tracker_part *p = t->parts[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    }
    return NULL;
}

size_t trackerCount(const tracker *t) {
    return t->nparts;
}

tracker_part *trackerAt(const tracker *t, size_t i) {
    return i < t->nparts ? t->parts[i] : NULL;
}

static tracker_part *trackerCreate(tracker *t, const char *topic, int32_t partition) {
    if (t->nparts == t->capparts) {
        size_t cap = t->capparts ? t->capparts * 2 : 16;
        tracker_part **np = realloc(t->parts, cap * sizeof(*np));
        if (!np)
            return NULL;
        t->parts = np;
        t->capparts = cap;
    }
    tracker_part *p = calloc(1, sizeof(*p));
    if (!p || !(p->topic = strdup(topic))) {
        free(p);
        return NULL;
    }
    p->partition = partition;
    p->committed = -1;
    p->end = -1;
    t->parts[t->nparts++] = p;
    return p;
}

/* Forgets everything in flight, giving the counts back to the totals. */
static void trackerClear(tracker *t, tracker_part *p) {
    for (size_t i = 0; i < p->count; i++) {
        tracker_entry *e = &p->ring[(p->head + i) & (p->cap - 1)];
        if (!e->done) {
            t->inflight_events--;
            t->inflight_bytes -= (int64_t)e->bytes;
        }
    }
    p->head = p->count = 0;
    p->last_received = -1;
    p->commit_pos = -1;
    p->commit_sent = -1;
    p->commit_sent_ms = 0;
    p->retrying = 0;
    p->away = 0;
    p->revoking = false;
    p->paused = false;
}

tracker_part *trackerAssign(tracker *t, const char *topic, int32_t partition, bool *first) {
    tracker_part *p = trackerFind(t, topic, partition);
    if (first)
        *first = p == NULL;
    if (!p && !(p = trackerCreate(t, topic, partition)))
        return NULL;
    trackerClear(t, p);
    p->epoch++;
    p->assigned = true;
    p->committed = -1;
    return p;
}

void trackerUnassign(tracker *t, tracker_part *p) {
    trackerClear(t, p);
    p->assigned = false;
    p->epoch++;
}

void trackerRevoking(tracker_part *p) {
    p->revoking = true;
}

static bool trackerGrow(tracker_part *p) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    tracker_entry *ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return false;
    for (size_t i = 0; i < p->count; i++)
        ring[i] = p->ring[(p->head + i) & (p->cap - 1)];
    free(p->ring);
    p->ring = ring;
    p->cap = cap;
    p->head = 0;
    return true;
}

tracker_verdict trackerReceive(tracker *t, tracker_part *p, int64_t offset, uint64_t bytes) {
    if (!p->assigned || p->revoking)
        return TRACKER_NOT_ASSIGNED;
    if (offset <= p->last_received)
        return TRACKER_DUPLICATE;
    if (p->count == p->cap && !trackerGrow(p))
        return TRACKER_NOMEM;
    tracker_entry *e = &p->ring[(p->head + p->count) & (p->cap - 1)];
    e->offset = offset;
    e->bytes = bytes;
    e->done = false;
    p->count++;
    p->last_received = offset;
    t->inflight_events++;
    t->inflight_bytes += (int64_t)bytes;
    return TRACKER_ACCEPT;
}

/* Index (from head) of offset in the sorted ring, or -1. */
static long trackerSearch(const tracker_part *p, int64_t offset) {
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t o = p->ring[(p->head + mid) & (p->cap - 1)].offset;
        if (o == offset)
            return (long)mid;
        if (o < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool trackerDone(tracker *t, tracker_part *p, uint32_t epoch, int64_t offset) {
    if (!p->assigned || epoch != p->epoch)
        return false;
    long i = trackerSearch(p, offset);
    if (i < 0)
        return false;
    tracker_entry *e = &p->ring[(p->head + (size_t)i) & (p->cap - 1)];
    if (e->done)
        return false;
    e->done = true;
    t->inflight_events--;
    t->inflight_bytes -= (int64_t)e->bytes;

    bool moved = false;
    while (p->count > 0 && p->ring[p->head].done) {
        p->commit_pos = p->ring[p->head].offset + 1;
        p->head = (p->head + 1) & (p->cap - 1);
        p->count--;
        moved = true;
    }
    return moved;
}

void trackerRetryBegin(tracker_part *p) {
    p->retrying++;
}

void trackerRetryEnd(tracker_part *p) {
    if (p->retrying > 0)
        p->retrying--;
}

void trackerAway(tracker_part *p, uint32_t epoch, int delta) {
    if (epoch == p->epoch && p->assigned)
        p->away += delta;
}

int trackerAwayCount(const tracker_part *p) {
    return p->away;
}

const char *trackerTopic(const tracker_part *p) {
    return p->topic;
}

int32_t trackerPartition(const tracker_part *p) {
    return p->partition;
}

uint32_t trackerEpoch(const tracker_part *p) {
    return p->epoch;
}

bool trackerAssigned(const tracker_part *p) {
    return p->assigned;
}

bool trackerIsRevoking(const tracker_part *p) {
    return p->revoking;
}

size_t trackerInflight(const tracker_part *p) {
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++)
        n += p->ring[(p->head + i) & (p->cap - 1)].done ? 0 : 1;
    return n;
}

int trackerRetrying(const tracker_part *p) {
    return p->retrying;
}

int64_t trackerCommitPosition(const tracker_part *p) {
    return p->commit_pos;
}

bool trackerCommitDue(const tracker_part *p, int64_t now_ms, int64_t resend_ms) {
    if (!p->assigned || p->commit_pos < 0 || p->commit_pos <= p->committed)
        return false;
    if (p->commit_sent != p->commit_pos)
        return true;
    return now_ms - p->commit_sent_ms >= resend_ms;
}

void trackerCommitSent(tracker_part *p, int64_t offset, int64_t now_ms) {
    p->commit_sent = offset;
    p->commit_sent_ms = now_ms;
}

void trackerCommitResult(tracker_part *p, int64_t offset, bool ok) {
    if (ok && offset > p->committed)
        p->committed = offset;
    if (!ok && offset == p->commit_sent)
        p->commit_sent = -1; /* send again at the next occasion */
}

int64_t trackerCommitted(const tracker_part *p) {
    return p->committed;
}

void trackerSetCommitted(tracker_part *p, int64_t offset) {
    if (offset >= 0)
        p->committed = offset;
}

void trackerSetPaused(tracker_part *p, bool paused) {
    p->paused = paused;
}

bool trackerPaused(const tracker_part *p) {
    return p->paused;
}

bool trackerWantPaused(const tracker *t, const tracker_part *p) {
    return p->assigned && (p->retrying > 0 || t->backpressure);
}

bool trackerBackpressure(tracker *t, int64_t max_events, int64_t max_bytes) {
    if (t->inflight_events >= max_events || t->inflight_bytes >= max_bytes)
        t->backpressure = true;
    else if (t->inflight_events <= max_events / 2 && t->inflight_bytes <= max_bytes / 2)
        t->backpressure = false;
    return t->backpressure;
}

int64_t trackerInflightEvents(const tracker *t) {
    return t->inflight_events;
}

int64_t trackerInflightBytes(const tracker *t) {
    return t->inflight_bytes;
}

void trackerSetEnd(tracker_part *p, int64_t end) {
    p->end = end;
}

int64_t trackerEnd(const tracker_part *p) {
    return p->end;
}

bool trackerAtEnd(const tracker *t) {
    size_t assigned = 0;
    for (size_t i = 0; i < t->nparts; i++) {
        const tracker_part *p = t->parts[i];
        if (!p->assigned)
            continue;
        assigned++;
        if (p->end < 0 || p->committed < p->end)
            return false;
    }
    return assigned > 0;
}

size_t trackerAssignedCount(const tracker *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->nparts; i++)
        n += t->parts[i]->assigned ? 1 : 0;
    return n;
}

size_t trackerPausedCount(const tracker *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->nparts; i++)
        n += t->parts[i]->assigned && t->parts[i]->paused ? 1 : 0;
    return n;
}
