/*
 * status.h - what the running consumer knows about itself, for /healthz,
 * /readyz and /metrics.
 *
 * The runtime (consume.c, kafka.c) writes; an HTTP server thread reads with
 * statusSnapshot(), which copies everything under one mutex, so a scrape sees
 * one consistent moment and never blocks the main loop for long. All counters
 * are monotonic since start (Prometheus counters); gauges are current values.
 *
 * Who updates what, and how often:
 *  - the main loop: loop_tick_ms on every iteration (at least every 100 ms
 *    while it is healthy; /healthz should fail when now - loop_tick_ms grows
 *    beyond a few seconds), in-flight events/bytes, assigned and paused
 *    partitions, producer queue depth, the per-partition table, the artifact
 *    store counters (every second), winapi_loaded;
 *  - event completion (main thread): consumed/succeeded/dead-lettered/retried
 *    counters, latency histograms, bytes scanned;
 *  - librdkafka callbacks (served on the main thread): broker_reachable from
 *    error callbacks (all brokers down) and statistics (some broker UP), and
 *    consumer lag per partition from the statistics JSON (every
 *    statistics.interval.ms, 5000 by default, settable with -X).
 *
 * Suggested readiness (issue 6): group_joined && assigned or joined,
 * broker_reachable, winapi_loaded, !shutting_down. Liveness: loop ticking.
 *
 * Thread-safety: every function may be called from any thread.
 * Ownership: the status is created and freed by the runtime; a snapshot's
 * partitions array is owned by the snapshot (statusSnapshotFree).
 */
#ifndef APIVECTOR_STATUS_H
#define APIVECTOR_STATUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "artifact.h"
#include "event.h"

/* Latency stages, each with its own histogram. */
typedef enum status_stage {
    STATUS_STAGE_FETCH = 0,
    STATUS_STAGE_CRAWL,
    STATUS_STAGE_MATCH,
    STATUS_STAGE_TOTAL,
    STATUS_STAGE_COUNT
} status_stage;

/* Histogram bucket upper bounds in seconds (Prometheus "le"); the last
 * bucket (index STATUS_LATENCY_BUCKETS) is +Inf. */
#define STATUS_LATENCY_BUCKETS 14
extern const double statusLatencyBounds[STATUS_LATENCY_BUCKETS];

typedef struct status_latency {
    /* buckets[i]: observations v with bounds[i-1] < v <= bounds[i] (not
     * cumulative; sum a prefix for Prometheus' le buckets); buckets[last]:
     * above every bound. */
    uint64_t buckets[STATUS_LATENCY_BUCKETS + 1];
    uint64_t count;
    double sum_seconds;
} status_latency;

/* One input partition this process holds. */
typedef struct status_partition {
    char topic[256];
    int32_t partition;
    bool paused;
    int64_t inflight_events;
    int64_t committed;      /* last commit confirmed by the broker; -1 unknown */
    int64_t high_watermark; /* from statistics (hi_offset); -1 unknown */
    int64_t lag;            /* consumer_lag from statistics; -1 unknown */
} status_partition;

typedef struct status_snapshot {
    int64_t started_at_ms; /* Unix ms */
    int64_t loop_tick_ms;  /* Unix ms of the main loop's last iteration */
    bool group_joined;     /* an assignment (possibly empty) was received */
    bool broker_reachable;
    int64_t broker_changed_ms; /* when broker_reachable last changed */
    bool winapi_loaded;
    bool shutting_down;
    int64_t assigned_partitions;
    int64_t paused_partitions;
    int64_t inflight_events;
    int64_t inflight_bytes;       /* sum of the input message sizes in flight */
    int64_t producer_queue_depth; /* rd_kafka_outq_len of the producer */
    int64_t workers;

    /* Counters. */
    uint64_t consumed;      /* input messages taken as jobs */
    uint64_t succeeded;     /* jobs completed with results (not dead-lettered) */
    uint64_t dead_lettered; /* jobs completed with a dead letter */
    uint64_t dead_lettered_by_code[EVENT_ERR_COUNT];
    uint64_t retried; /* transient failures scheduled for another attempt */
    uint64_t retried_by_code[EVENT_ERR_COUNT];
    uint64_t delivery_retries; /* jobs re-run because an output was not acknowledged */
    uint64_t duplicates;       /* redelivered offsets skipped (already in flight or done) */
    uint64_t results_produced; /* apivector.result.v1 records acknowledged */
    uint64_t matches_produced; /* apivector.match.v1 records acknowledged */
    uint64_t dlq_produced;     /* dead-letter records acknowledged */
    uint64_t bytes_scanned;    /* dump bytes crawled */
    uint64_t stale_artifacts;  /* results computed with a stale artifact */
    uint64_t commits;          /* offset commits confirmed by the broker */
    uint64_t commit_failures;

    status_latency latency[STATUS_STAGE_COUNT];
    artifact_stats artifacts; /* the artifact store's counters (cache tiers) */

    status_partition *partitions; /* owned by the snapshot */
    size_t npartitions;
} status_snapshot;

typedef struct status {
    pthread_mutex_t lock;
    status_snapshot s; /* guarded by lock; s.partitions owned here */
} status;

/* Initialises st (started now, broker assumed reachable until told
 * otherwise). Returns 0, or -1 when the mutex cannot be created. */
int statusInit(status *st);
void statusDestroy(status *st);

/* Copies the current state into out; free with statusSnapshotFree. */
void statusSnapshot(status *st, status_snapshot *out);
void statusSnapshotFree(status_snapshot *snap);

/* The main loop's heartbeat; also refreshes the gauges given. */
typedef struct status_gauges {
    int64_t inflight_events, inflight_bytes;
    int64_t assigned_partitions, paused_partitions;
    int64_t producer_queue_depth;
    bool winapi_loaded;
} status_gauges;
void statusTick(status *st, int64_t now_ms, const status_gauges *g);

void statusSetGroupJoined(status *st, bool joined);
void statusSetShuttingDown(status *st);
void statusSetWorkers(status *st, int64_t n);

/* Sets broker reachability; no-op when unchanged. */
void statusSetBrokerReachable(status *st, bool reachable, int64_t now_ms);

/* Replaces the partition table with parts[0..n) (copied); lag and high
 * watermark of partitions already present are kept. */
void statusSetPartitions(status *st, const status_partition *parts, size_t n);

/* Sets lag and high watermark of one partition from statistics; ignored when
 * the partition is not in the table. */
void statusSetLag(status *st, const char *topic, int32_t partition, int64_t lag,
                  int64_t high_watermark);

/* One finished job. dead_letter_code: the event_error of a dead letter, or
 * EVENT_ERR_NONE for a success. */
typedef struct status_job {
    event_error dead_letter_code;
    uint64_t results, matches, dead_letters; /* records acknowledged */
    uint64_t bytes_scanned;
    bool stale;
    double fetch_ms, crawl_ms, match_ms, total_ms;
} status_job;
void statusJobDone(status *st, const status_job *j);

void statusConsumed(status *st, uint64_t messages);
void statusDuplicate(status *st);
void statusRetried(status *st, event_error code);
void statusDeliveryRetry(status *st);
void statusCommit(status *st, bool ok);
void statusSetArtifacts(status *st, const artifact_stats *a);

/* Adds one observation to a histogram (exposed for tests). */
void statusLatencyObserve(status_latency *h, double seconds);

#endif
