/*
 * runtime.h - the state of a running `apivector consume` and the steps its
 * main loop (consume.c) is made of.
 *
 * The main thread owns everything here: the tracker, the lists of jobs
 * waiting for a retry, the commit state. Worker threads only touch the jobs
 * handed to them; librdkafka's consumer and producer callbacks (rebalance,
 * commit results, delivery reports, statistics) are all served on the main
 * thread by rd_kafka_consumer_poll and rd_kafka_poll(producer). So no lock
 * guards the runtime; the status (status.h) is the only state read by other
 * threads.
 *
 *   runtime.c    input messages to jobs, completed jobs to commits or retries,
 *                pause/resume, commits, the periodic status update
 *   rebalance.c  partitions assigned (replay seek, until-end watermarks) and
 *                revoked (bounded wait for in-flight jobs, final commit)
 *
 * Ownership: consume.c creates and frees the runtime's members.
 */
#ifndef APIVECTOR_RUNTIME_H
#define APIVECTOR_RUNTIME_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "kafka.h"
#include "metrics.h"
#include "pipeline.h"
#include "replay.h"
#include "status.h"
#include "tracker.h"
#include "workers.h"

/* How often due offsets are committed, and after how long an unanswered
 * commit is sent again. */
#define RUNTIME_COMMIT_INTERVAL_MS 1000
#define RUNTIME_COMMIT_RESEND_MS 5000
/* Blocking lookups done while partitions are assigned. */
#define RUNTIME_LOOKUP_TIMEOUT_MS 10000

typedef struct runtime_opts {
    replay_mode replay;
    int64_t from_timestamp_ms; /* with REPLAY_FROM_TIMESTAMP */
    bool until_end;
} runtime_opts;

/* Counts for the --until-end summary. */
typedef struct runtime_counts {
    uint64_t consumed, results, matches, dead_letters, retried, duplicates;
} runtime_counts;

typedef struct runtime {
    const config *cfg;
    runtime_opts opts;
    status st;
    kafka_hooks hooks;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *consumer_queue, *producer_queue;
    pipeline *pipe;
    workers *wk;
    tracker *tr;
    metrics_server *metrics; /* /metrics, /healthz, /readyz; NULL when metrics_port is 0 */
    int wake[2]; /* read end polled by the main loop; written by librdkafka, workers, signals */

    job *waiting;      /* jobs waiting for a retry or for room in the queue, by due_ms */
    int64_t jobs_away; /* submitted, not yet back from the done list */

    bool stopping;          /* no new work: shutting down */
    int64_t drain_deadline; /* while stopping: when waiting for jobs ends (monotonic ms) */
    bool fast;              /* a second signal: abandon in-flight work */
    bool finished;          /* --until-end reached the watermarks */
    atomic_bool fatal;      /* a fatal error: exit 1 */
    char fatal_reason[AV_ERRLEN];
    atomic_int signals; /* SIGTERM/SIGINT received */

    int64_t started_ms;
    int64_t last_commit_ms, last_status_ms;
    runtime_counts counts;
} runtime;

/* Takes one message from rd_kafka_consumer_poll (ownership passes). */
void runtimeMessage(runtime *rt, rd_kafka_message_t *msg);

/* Handles every job on the workers' done list. */
void runtimeDrainDone(runtime *rt);

/* Submits waiting jobs whose time has come, while the queue has room. */
void runtimeDispatch(runtime *rt, int64_t now_ms);

/* Milliseconds until the first waiting job is due (-1: none waiting). */
int64_t runtimeNextDue(const runtime *rt, int64_t now_ms);

/* Drops waiting jobs (shutdown): their offsets stay uncommitted. */
void runtimeDropWaiting(runtime *rt);

/* Pauses or resumes partitions whose wanted state changed (retries,
 * backpressure, shutdown). */
void runtimeApplyPauses(runtime *rt);

/* Commits due offsets: asynchronously, or synchronously (waiting for the
 * answer) at revoke and shutdown. only: just this partition, or NULL. */
void runtimeCommit(runtime *rt, bool sync, tracker_part *only);

/* Refreshes the status gauges and the partition table; checks --until-end. */
void runtimeTick(runtime *rt, int64_t now_ms);

/* Records a fatal error: the loop stops and the process exits 1. */
void runtimeFatal(runtime *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The kafka_hooks callbacks (opaque is the runtime). */
void runtimeRebalance(void *opaque, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts);
void runtimeCommitResult(void *opaque, rd_kafka_resp_err_t err,
                         const rd_kafka_topic_partition_list_t *offsets);
void runtimeDelivery(void *opaque, const rd_kafka_message_t *msg);
void runtimeKafkaFatal(void *opaque, const char *client, const char *reason);

#endif
