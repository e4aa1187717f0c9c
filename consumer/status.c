/*
 * status.c - the consumer's self-knowledge behind one mutex (see status.h).
 *
 * Every writer takes the lock for a handful of stores; a snapshot copies the
 * whole struct plus the partition table. One lock instead of atomics keeps a
 * scrape consistent (e.g. consumed >= succeeded + dead_lettered at every
 * instant) and costs nothing measurable next to processing a dump.
 */
#include "status.h"

#include <stdlib.h>
#include <string.h>

const double statusLatencyBounds[STATUS_LATENCY_BUCKETS] = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

int statusInit(status *st) {
    memset(st, 0, sizeof(*st));
    if (pthread_mutex_init(&st->lock, NULL) != 0)
        return -1;
    st->s.broker_reachable = true;
    return 0;
}

void statusDestroy(status *st) {
    free(st->s.partitions);
    st->s.partitions = NULL;
    pthread_mutex_destroy(&st->lock);
}

void statusSnapshot(status *st, status_snapshot *out) {
    pthread_mutex_lock(&st->lock);
    *out = st->s;
    out->partitions = NULL;
    if (st->s.npartitions > 0) {
        out->partitions = malloc(st->s.npartitions * sizeof(*out->partitions));
        if (out->partitions)
            memcpy(out->partitions, st->s.partitions, st->s.npartitions * sizeof(*out->partitions));
        else
            out->npartitions = 0;
    }
    pthread_mutex_unlock(&st->lock);
}

void statusSnapshotFree(status_snapshot *snap) {
    free(snap->partitions);
    snap->partitions = NULL;
    snap->npartitions = 0;
}

void statusTick(status *st, int64_t now_ms, const status_gauges *g) {
    pthread_mutex_lock(&st->lock);
    st->s.loop_tick_ms = now_ms;
    if (st->s.started_at_ms == 0)
        st->s.started_at_ms = now_ms;
    if (g) {
        st->s.inflight_events = g->inflight_events;
        st->s.inflight_bytes = g->inflight_bytes;
        st->s.assigned_partitions = g->assigned_partitions;
        st->s.paused_partitions = g->paused_partitions;
        st->s.producer_queue_depth = g->producer_queue_depth;
        st->s.winapi_loaded = g->winapi_loaded;
    }
    pthread_mutex_unlock(&st->lock);
}

void statusSetGroupJoined(status *st, bool joined) {
    pthread_mutex_lock(&st->lock);
    st->s.group_joined = joined;
    pthread_mutex_unlock(&st->lock);
}

void statusSetShuttingDown(status *st) {
    pthread_mutex_lock(&st->lock);
    st->s.shutting_down = true;
    pthread_mutex_unlock(&st->lock);
}

void statusSetWorkers(status *st, int64_t n) {
    pthread_mutex_lock(&st->lock);
    st->s.workers = n;
    pthread_mutex_unlock(&st->lock);
}

void statusSetBrokerReachable(status *st, bool reachable, int64_t now_ms) {
    pthread_mutex_lock(&st->lock);
    if (st->s.broker_reachable != reachable) {
        st->s.broker_reachable = reachable;
        st->s.broker_changed_ms = now_ms;
    }
    pthread_mutex_unlock(&st->lock);
}

static status_partition *statusFindPartition(status *st, const char *topic, int32_t partition) {
    for (size_t i = 0; i < st->s.npartitions; i++) {
        status_partition *p = &st->s.partitions[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    }
    return NULL;
}

void statusSetPartitions(status *st, const status_partition *parts, size_t n) {
    status_partition *copy = NULL;
    if (n > 0) {
        copy = malloc(n * sizeof(*copy));
        if (!copy)
            return; /* keep the old table: stale gauges beat none */
        memcpy(copy, parts, n * sizeof(*copy));
    }
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < n; i++) {
        status_partition *old = statusFindPartition(st, copy[i].topic, copy[i].partition);
        if (old) {
            copy[i].lag = old->lag;
            copy[i].high_watermark = old->high_watermark;
        }
    }
    free(st->s.partitions);
    st->s.partitions = copy;
    st->s.npartitions = n;
    pthread_mutex_unlock(&st->lock);
}

void statusSetLag(status *st, const char *topic, int32_t partition, int64_t lag,
                  int64_t high_watermark) {
    pthread_mutex_lock(&st->lock);
    status_partition *p = statusFindPartition(st, topic, partition);
    if (p) {
        p->lag = lag;
        p->high_watermark = high_watermark;
    }
    pthread_mutex_unlock(&st->lock);
}

void statusLatencyObserve(status_latency *h, double seconds) {
    size_t i = 0;
    if (seconds < 0)
        seconds = 0;
    while (i < STATUS_LATENCY_BUCKETS && seconds > statusLatencyBounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum_seconds += seconds;
}

void statusJobDone(status *st, const status_job *j) {
    const double ms[STATUS_STAGE_COUNT] = {j->fetch_ms, j->crawl_ms, j->match_ms, j->total_ms};
    pthread_mutex_lock(&st->lock);
    if (j->dead_letter_code == EVENT_ERR_NONE) {
        st->s.succeeded++;
    } else {
        st->s.dead_lettered++;
        if (j->dead_letter_code >= 0 && j->dead_letter_code < EVENT_ERR_COUNT)
            st->s.dead_lettered_by_code[j->dead_letter_code]++;
    }
    st->s.results_produced += j->results;
    st->s.matches_produced += j->matches;
    st->s.dlq_produced += j->dead_letters;
    st->s.bytes_scanned += j->bytes_scanned;
    st->s.stale_artifacts += j->stale ? 1 : 0;
    for (int i = 0; i < STATUS_STAGE_COUNT; i++)
        statusLatencyObserve(&st->s.latency[i], ms[i] / 1000.0);
    pthread_mutex_unlock(&st->lock);
}

void statusConsumed(status *st, uint64_t messages) {
    pthread_mutex_lock(&st->lock);
    st->s.consumed += messages;
    pthread_mutex_unlock(&st->lock);
}

void statusDuplicate(status *st) {
    pthread_mutex_lock(&st->lock);
    st->s.duplicates++;
    pthread_mutex_unlock(&st->lock);
}

void statusRetried(status *st, event_error code) {
    pthread_mutex_lock(&st->lock);
    st->s.retried++;
    if (code >= 0 && code < EVENT_ERR_COUNT)
        st->s.retried_by_code[code]++;
    pthread_mutex_unlock(&st->lock);
}

void statusDeliveryRetry(status *st) {
    pthread_mutex_lock(&st->lock);
    st->s.delivery_retries++;
    pthread_mutex_unlock(&st->lock);
}

void statusCommit(status *st, bool ok) {
    pthread_mutex_lock(&st->lock);
    if (ok)
        st->s.commits++;
    else
        st->s.commit_failures++;
    pthread_mutex_unlock(&st->lock);
}

void statusSetArtifacts(status *st, const artifact_stats *a) {
    pthread_mutex_lock(&st->lock);
    st->s.artifacts = *a;
    pthread_mutex_unlock(&st->lock);
}
