/*
 * workers.c - worker threads, the bounded job queue and delivery counting
 * (see workers.h).
 *
 * The queue is a ring of queue_cap pointers under one mutex and condition
 * variable; the done list is a FIFO under its own mutex, so a delivery
 * report never waits for a worker taking a job. A job's pending count is set
 * to its number of records before the first produce: a delivery report for
 * record 1 may arrive on the main thread while the worker still produces
 * record 2, and must not see zero early. After a produce fails locally, the
 * worker subtracts the records it will never produce; whoever brings the
 * count to zero (a delivery report or that subtraction) moves the job to the
 * done list. A worker touches a job no more once its last record was
 * produced, because the job may be done and freed at any moment after.
 */
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"

struct workers {
    pipeline *pipe;
    rd_kafka_t *producer;
    const config *cfg;
    int wake_fd;

    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    job **ring;
    size_t cap, head, count;
    bool stopping;
    atomic_bool abort;
    atomic_size_t running;

    pthread_mutex_t dlock;
    job *done_head, *done_tail;

    pthread_t *threads;
    size_t nthreads;
    atomic_size_t exited;
};

job *jobNew(rd_kafka_message_t *msg, uint32_t epoch, int64_t now_ms) {
    job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->msg = msg;
    j->topic = rd_kafka_topic_name(msg->rkt);
    j->partition = msg->partition;
    j->offset = msg->offset;
    j->epoch = epoch;
    j->attempt = 1;
    j->received_ms = now_ms;
    atomic_init(&j->pending, 0);
    atomic_init(&j->delivery_err, 0);
    return j;
}

void jobFree(job *j) {
    if (!j)
        return;
    if (j->msg)
        rd_kafka_message_destroy(j->msg);
    free(j->event_id);
    free(j);
}

void jobResetOutcome(job *j) {
    j->failed = false;
    j->error_code[0] = '\0';
    j->error_message[0] = '\0';
    j->dead_lettered = false;
    j->nresults = j->nmatches = j->bytes_scanned = 0;
    j->stale = false;
    memset(&j->timings, 0, sizeof(j->timings));
    atomic_store(&j->pending, 0);
    atomic_store(&j->delivery_err, 0);
}

size_t workersDefaultCount(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

/* ------------------------------------------------------------ done list */

static void workersWake(workers *w) {
    char c = 1;
    while (write(w->wake_fd, &c, 1) < 0 && errno == EINTR) {
    }
}

/* Appends j to the done list; wakes the main loop when the list was empty
 * and wake is set (the main thread itself needs no wake-up). */
static void workersFinish(workers *w, job *j, bool wake) {
    bool was_empty;
    j->next = NULL;
    pthread_mutex_lock(&w->dlock);
    was_empty = w->done_head == NULL;
    if (w->done_tail)
        w->done_tail->next = j;
    else
        w->done_head = j;
    w->done_tail = j;
    pthread_mutex_unlock(&w->dlock);
    if (was_empty && wake)
        workersWake(w);
}

job *workersTakeDone(workers *w) {
    pthread_mutex_lock(&w->dlock);
    job *list = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->dlock);
    return list;
}

/* Records an undelivered count and finishes the job when it was the last. */
static void workersUncount(workers *w, job *j, int n, int errcode, bool wake) {
    int expected = 0;
    if (errcode)
        atomic_compare_exchange_strong(&j->delivery_err, &expected, errcode);
    if (atomic_fetch_sub(&j->pending, n) == n)
        workersFinish(w, j, wake);
}

void workersDelivery(workers *w, const rd_kafka_message_t *msg) {
    job *j = msg->_private;
    if (j)
        workersUncount(w, j, 1, msg->err, false);
}

/* ------------------------------------------------------------ processing */

static rd_kafka_resp_err_t workersProduceOne(workers *w, job *j, const pipeline_record *r) {
    const char *topic = r->dest == PIPELINE_DLQ ? w->cfg->dlq_topic : w->cfg->results_topic;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            w->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(r->key, r->key ? r->key_len : 0),
            RD_KAFKA_V_VALUE(r->value, r->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(j), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || atomic_load(&w->abort))
            return err;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL); /* the main thread serves delivery reports */
    }
}

/* Copies what the main thread needs from out into j (before producing: see
 * the file comment). */
static void workersKeepOutcome(job *j, const pipeline_output *out) {
    j->failed = out->failed != 0;
    snprintf(j->error_code, sizeof(j->error_code), "%s", out->error_code);
    snprintf(j->error_message, sizeof(j->error_message), "%s", out->error_message);
    j->dead_lettered = out->dead_lettered != 0;
    j->nmatches = out->match_events > 0 ? (uint64_t)out->match_events : 0;
    j->nresults = 0;
    for (size_t i = 0; i < out->n; i++)
        j->nresults += out->records[i].dest == PIPELINE_RESULTS ? 1 : 0;
    j->nresults = j->nresults >= j->nmatches ? j->nresults - j->nmatches : 0;
    j->bytes_scanned = out->bytes_scanned;
    j->stale = out->stale != 0;
    j->timings = out->timings;
}

static void workersProcess(workers *w, job *j) {
    const rd_kafka_message_t *m = j->msg;
    pipeline_input in = {.topic = j->topic,
                         .partition = j->partition,
                         .offset = j->offset,
                         .key = m->key,
                         .key_len = m->key_len,
                         .value = m->payload,
                         .len = m->len,
                         .attempt = j->attempt};
    pipeline_output out;
    memset(&out, 0, sizeof(out));

    /* Read by the main thread only once the job is back: no race. */
    if (!j->event_id && m->payload)
        j->event_id = eventPeekId(m->payload, m->len);
    if (j->give_up)
        pipelineDeadLetter(w->pipe, &in, "internal", j->give_up_reason,
                           j->attempt + j->delivery_failures, &out);
    else
        pipelineProcess(w->pipe, &in, &out);
    workersKeepOutcome(j, &out);
    if (out.failed || out.n == 0) {
        pipelineOutputClear(&out);
        workersFinish(w, j, true);
        return;
    }

    size_t n = out.n;
    atomic_store(&j->pending, (int)n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = workersProduceOne(w, j, &out.records[i]);
        if (err) {
            log_fields f = {.component = "workers",
                            .event_id = j->event_id,
                            .topic = j->topic,
                            .partition = j->partition,
                            .offset = j->offset,
                            .error_code = rd_kafka_err2name(err)};
            logMsg(CONFIG_LOG_WARN, &f, "cannot produce output %zu of %zu: %s", i + 1, n,
                   rd_kafka_err2str(err));
            workersUncount(w, j, (int)(n - i), err, true);
            break;
        }
    }
    pipelineOutputClear(&out);
}

static job *workersPop(workers *w) {
    pthread_mutex_lock(&w->qlock);
    while (w->count == 0 && !w->stopping)
        pthread_cond_wait(&w->qcond, &w->qlock);
    job *j = NULL;
    if (w->count > 0 && !w->stopping) {
        j = w->ring[w->head];
        w->head = (w->head + 1) % w->cap;
        w->count--;
        atomic_fetch_add(&w->running, 1);
    }
    pthread_mutex_unlock(&w->qlock);
    return j;
}

static void *workersRun(void *arg) {
    workers *w = arg;
    job *j;
    while ((j = workersPop(w)) != NULL) {
        workersProcess(w, j);
        atomic_fetch_sub(&w->running, 1);
    }
    atomic_fetch_add(&w->exited, 1);
    return NULL;
}

/* ------------------------------------------------------------ the pool */

av_status workersNew(size_t nthreads, size_t queue_cap, pipeline *p, rd_kafka_t *producer,
                     const config *cfg, int wake_fd, workers **out, char *err, size_t errlen) {
    workers *w = calloc(1, sizeof(*w));
    *out = NULL;
    if (!w || !(w->ring = calloc(queue_cap, sizeof(*w->ring))) ||
        !(w->threads = calloc(nthreads, sizeof(*w->threads)))) {
        if (w)
            free(w->ring);
        free(w);
        return avErrorf(err, errlen, AV_ERR_NOMEM, "workers: out of memory");
    }
    w->pipe = p;
    w->producer = producer;
    w->cfg = cfg;
    w->wake_fd = wake_fd;
    w->cap = queue_cap;
    pthread_mutex_init(&w->qlock, NULL);
    pthread_cond_init(&w->qcond, NULL);
    pthread_mutex_init(&w->dlock, NULL);
    for (size_t i = 0; i < nthreads; i++) {
        int rc = pthread_create(&w->threads[i], NULL, workersRun, w);
        if (rc != 0) {
            workersStop(w, -1);
            workersFree(w);
            return avErrorf(err, errlen, AV_ERR_IO, "workers: cannot start thread %zu: %s", i + 1,
                            strerror(rc));
        }
        w->nthreads++;
    }
    *out = w;
    return AV_OK;
}

bool workersSubmit(workers *w, job *j) {
    bool ok = false;
    pthread_mutex_lock(&w->qlock);
    if (w->count < w->cap && !w->stopping) {
        w->ring[(w->head + w->count) % w->cap] = j;
        w->count++;
        ok = true;
        pthread_cond_signal(&w->qcond);
    }
    pthread_mutex_unlock(&w->qlock);
    return ok;
}

job *workersCancel(workers *w, bool (*match)(const job *j, void *ctx), void *ctx) {
    job *head = NULL, **tail = &head;
    pthread_mutex_lock(&w->qlock);
    size_t kept = 0;
    for (size_t i = 0; i < w->count; i++) {
        job *j = w->ring[(w->head + i) % w->cap];
        if (match(j, ctx)) {
            j->next = NULL;
            *tail = j;
            tail = &j->next;
        } else {
            w->ring[(w->head + kept) % w->cap] = j;
            kept++;
        }
    }
    w->count = kept;
    pthread_mutex_unlock(&w->qlock);
    return head;
}

size_t workersQueued(workers *w) {
    pthread_mutex_lock(&w->qlock);
    size_t n = w->count;
    pthread_mutex_unlock(&w->qlock);
    return n;
}

size_t workersRunning(workers *w) {
    return atomic_load(&w->running);
}

size_t workersThreads(const workers *w) {
    return w->nthreads;
}

void workersAbort(workers *w) {
    atomic_store(&w->abort, true);
}

bool workersStop(workers *w, int64_t timeout_ms) {
    pthread_mutex_lock(&w->qlock);
    w->stopping = true;
    pthread_cond_broadcast(&w->qcond);
    pthread_mutex_unlock(&w->qlock);

    /* Wait (bounded) for every thread to leave its loop before joining, so a
     * thread stuck in a long pipelineProcess never blocks the exit. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&w->exited) < w->nthreads) {
        struct timespec now, ts = {0, 5 * 1000000L};
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t waited =
            (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return false;
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    w->nthreads = 0;
    return true;
}

void workersFree(workers *w) {
    if (!w)
        return;
    for (size_t i = 0; i < w->count; i++)
        jobFree(w->ring[(w->head + i) % w->cap]);
    job *d = w->done_head;
    while (d) {
        job *next = d->next;
        jobFree(d);
        d = next;
    }
    pthread_mutex_destroy(&w->qlock);
    pthread_cond_destroy(&w->qcond);
    pthread_mutex_destroy(&w->dlock);
    free(w->ring);
    free(w->threads);
    free(w);
}
