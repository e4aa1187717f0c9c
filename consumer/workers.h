/*
 * workers.h - the worker thread pool: one input message in, its outputs
 * produced to Kafka.
 *
 * A job is one input message. The main thread submits it to a bounded FIFO;
 * a worker takes it, runs pipelineProcess() (or pipelineDeadLetter() when the
 * runtime gave up on delivering its results), and produces every output
 * record with rd_kafka_producev (key, value, topic from the record's dest;
 * the job is each record's msg_opaque). The delivery report of each record
 * counts the job's pending records down; when the last one is acknowledged -
 * or a worker found nothing to produce (a transient failure) - the job goes
 * to the done list, and the main thread takes it from there (tracker,
 * commits, retries). A byte written to wake_fd tells the main loop the done
 * list became non-empty.
 *
 * Records are produced with RD_KAFKA_MSG_F_COPY, so the pipeline's output is
 * freed as soon as the worker has handed it over. When the producer queue is
 * full the worker waits for it to drain (delivery reports are served by the
 * main thread) instead of dropping anything; after workersAbort() it gives up
 * and marks the job as not delivered.
 *
 * Ownership: a job is owned by the main thread while it is in a runtime list,
 * by the pool from workersSubmit until it appears on the done list (a worker
 * while processing, the producer while records are in flight), then by the
 * main thread again, which frees it with jobFree().
 * Thread-safety: workersSubmit, workersCancel, workersTakeDone and
 * workersDelivery are called by the main thread; workers are the pool's own
 * threads. Counters may be read from any thread.
 */
#ifndef APIVECTOR_WORKERS_H
#define APIVECTOR_WORKERS_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "config.h"
#include "pipeline.h"

typedef struct job {
    /* Input, set by the main thread; read-only while the job is away. */
    rd_kafka_message_t *msg; /* the input message, owned by the job */
    const char *topic;       /* points into msg */
    int32_t partition;
    int64_t offset;
    uint32_t epoch;        /* tracker epoch the message was received in */
    int attempt;           /* pipeline attempt, 1 for the first */
    int delivery_failures; /* times the outputs were not acknowledged */
    bool give_up;          /* produce a dead letter (pipelineDeadLetter) instead */
    char give_up_reason[256];
    char *event_id; /* the value's event_id for logs, peeked by the worker; may be NULL */

    /* Outcome, written by the worker before producing. */
    bool failed; /* transient pipeline failure: retry */
    char error_code[64];
    char error_message[AV_ERRLEN];
    bool dead_lettered;
    uint64_t nresults; /* result events among the records */
    uint64_t nmatches; /* match events among the records */
    uint64_t bytes_scanned;
    bool stale;
    pipeline_timings timings;
    atomic_int pending;      /* records not yet acknowledged */
    atomic_int delivery_err; /* first delivery error (rd_kafka_resp_err_t), 0 none */

    /* Main-thread bookkeeping. */
    int64_t received_ms;
    int64_t due_ms; /* when a retry is due */
    backoff retry_backoff;
    bool retrying;  /* counted in the tracker's retrying count */
    bool abandoned; /* its partition was revoked: result ignored */
    struct job *next;
} job;

/* A new job for msg (ownership of msg passes to the job). NULL on OOM. */
job *jobNew(rd_kafka_message_t *msg, uint32_t epoch, int64_t now_ms);

/* Frees a job and its message; NULL is allowed. */
void jobFree(job *j);

/* Clears the outcome before another attempt. */
void jobResetOutcome(job *j);

typedef struct workers workers;

/* Starts nthreads workers with a queue of queue_cap jobs. wake_fd is written
 * (one byte, non-blocking) when the done list becomes non-empty. */
av_status workersNew(size_t nthreads, size_t queue_cap, pipeline *p, rd_kafka_t *producer,
                     const config *cfg, int wake_fd, workers **out, char *err, size_t errlen);

/* Queues a job; false when the queue is full or the pool is stopping (the
 * job stays the caller's). */
bool workersSubmit(workers *w, job *j);

/* Removes queued (not yet started) jobs for which match returns true and
 * returns them as a list linked by next (the caller's again). */
job *workersCancel(workers *w, bool (*match)(const job *j, void *ctx), void *ctx);

/* Takes the whole done list, oldest first; NULL when empty. */
job *workersTakeDone(workers *w);

/* Handles one delivery report (msg->_private is the job). Main thread. */
void workersDelivery(workers *w, const rd_kafka_message_t *msg);

/* Jobs queued, and jobs a worker is processing right now. */
size_t workersQueued(workers *w);
size_t workersRunning(workers *w);
size_t workersThreads(const workers *w);

/* Makes workers give up waiting for room in the producer queue. */
void workersAbort(workers *w);

/* Stops taking jobs and waits up to timeout_ms for the threads to finish
 * their current job. Returns true when all threads were joined; false leaves
 * the pool running (its threads may still use the pipeline and producer, so
 * neither may be freed then). */
bool workersStop(workers *w, int64_t timeout_ms);

/* Frees a stopped pool (workersStop returned true). Jobs still queued or
 * done are freed. NULL is allowed. */
void workersFree(workers *w);

/* Number of CPUs available to this process (at least 1). */
size_t workersDefaultCount(void);

#endif
