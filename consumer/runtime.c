/*
 * runtime.c - from input messages to committed offsets (see runtime.h).
 *
 * The life of a job: runtimeMessage() registers the offset with the tracker
 * and submits the job; a worker processes it and produces its records; the
 * job comes back on the done list when all records were acknowledged (or it
 * failed transiently); runtimeJobDone() then either marks the offset done in
 * the tracker - which may move the partition's commit position - or
 * schedules a retry after a backoff, pausing the partition while the retry
 * waits. Commits go out once a second for every partition whose position
 * moved, so the commit rate does not grow with the event rate.
 */
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "event.h"
#include "log.h"

void runtimeFatal(runtime *rt, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!atomic_load(&rt->fatal))
        vsnprintf(rt->fatal_reason, sizeof(rt->fatal_reason), fmt, ap);
    va_end(ap);
    atomic_store(&rt->fatal, true);
    rt->stopping = true;
    logComponent(CONFIG_LOG_ERROR, "consume", "fatal: %s", rt->fatal_reason);
}

static log_fields runtimeJobFields(const job *j) {
    log_fields f = {.component = "consume",
                    .event_id = j->event_id,
                    .topic = j->topic,
                    .partition = j->partition,
                    .offset = j->offset,
                    .attempt = j->attempt};
    return f;
}

/* ------------------------------------------------------------ intake */

/* Inserts j into the waiting list, kept sorted by due_ms (FIFO on ties). */
static void runtimeWait(runtime *rt, job *j) {
    job **pp = &rt->waiting;
    while (*pp && (*pp)->due_ms <= j->due_ms)
        pp = &(*pp)->next;
    j->next = *pp;
    *pp = j;
}

static void runtimeSubmit(runtime *rt, tracker_part *p, job *j, int64_t now_ms) {
    if (workersSubmit(rt->wk, j)) {
        rt->jobs_away++;
        trackerAway(p, j->epoch, 1);
        return;
    }
    j->due_ms = now_ms;
    runtimeWait(rt, j);
}

void runtimeMessage(runtime *rt, rd_kafka_message_t *msg) {
    if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_fields f = {.component = "kafka", .error_code = rd_kafka_err2name(msg->err)};
            logMsg(CONFIG_LOG_WARN, &f, "consumer: %s", rd_kafka_message_errstr(msg));
        }
        rd_kafka_message_destroy(msg);
        return;
    }
    /* While stopping, a message is dropped untracked: the tracker never saw
     * it, so no commit can pass it, and the group's next owner reads it. */
    tracker_part *p =
        rt->stopping ? NULL : trackerFind(rt->tr, rd_kafka_topic_name(msg->rkt), msg->partition);
    if (!p) {
        rd_kafka_message_destroy(msg);
        return;
    }
    switch (trackerReceive(rt->tr, p, msg->offset, msg->len)) {
        case TRACKER_ACCEPT:
            break;
        case TRACKER_DUPLICATE:
            rt->counts.duplicates++;
            statusDuplicate(&rt->st);
            rd_kafka_message_destroy(msg);
            return;
        case TRACKER_NOT_ASSIGNED:
            rd_kafka_message_destroy(msg);
            return;
        case TRACKER_NOMEM:
            rd_kafka_message_destroy(msg);
            runtimeFatal(rt, "out of memory tracking offsets");
            return;
    }
    int64_t now = clockMonoMs();
    job *j = jobNew(msg, trackerEpoch(p), now);
    if (!j) {
        rd_kafka_message_destroy(msg);
        runtimeFatal(rt, "out of memory creating a job");
        return;
    }
    rt->counts.consumed++;
    statusConsumed(&rt->st, 1);
    runtimeSubmit(rt, p, j, now);
    /* Check the limits per message so the overshoot stays at one message. */
    if (trackerBackpressure(rt->tr, rt->cfg->max_inflight_events, rt->cfg->max_inflight_bytes))
        runtimeApplyPauses(rt);
}

/* ------------------------------------------------------------ completion */

static uint32_t runtimeClampU32(int64_t v) {
    return v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void runtimeRetry(runtime *rt, tracker_part *p, job *j) {
    int64_t now = clockMonoMs();
    if (!j->retrying) {
        j->retrying = true;
        trackerRetryBegin(p);
        backoffInit(&j->retry_backoff, runtimeClampU32(rt->cfg->retry_backoff_ms),
                    runtimeClampU32(rt->cfg->retry_backoff_max_ms),
                    (uint64_t)j->offset * 0x9e3779b97f4a7c15ULL ^ (uint64_t)clockWallMs());
    }
    uint32_t delay = backoffNext(&j->retry_backoff);
    jobResetOutcome(j);
    j->due_ms = now + delay;
    runtimeWait(rt, j);
    log_fields f = runtimeJobFields(j);
    logMsg(CONFIG_LOG_DEBUG, &f, "retry in %u ms", delay);
}

static void runtimeFailedTransient(runtime *rt, tracker_part *p, job *j) {
    event_error code = eventErrorFromName(j->error_code);
    log_fields f = runtimeJobFields(j);
    f.error_code = j->error_code;
    logMsg(CONFIG_LOG_WARN, &f, "transient failure, will retry: %s", j->error_message);
    rt->counts.retried++;
    statusRetried(&rt->st, code == EVENT_ERR_NONE ? EVENT_ERR_INTERNAL : code);
    j->attempt++;
    runtimeRetry(rt, p, j);
}

/* The outputs were not all acknowledged: produce them again later. After
 * max_attempts such failures, give up with a dead letter - which is retried
 * without end if it cannot be delivered either: never drop, never commit. */
static void runtimeFailedDelivery(runtime *rt, tracker_part *p, job *j, int derr) {
    log_fields f = runtimeJobFields(j);
    f.error_code = rd_kafka_err2name(derr);
    j->delivery_failures++;
    statusDeliveryRetry(&rt->st);
    logMsg(CONFIG_LOG_WARN, &f, "outputs not acknowledged (%s), will produce again",
           rd_kafka_err2str(derr));
    if (j->delivery_failures >= rt->cfg->max_attempts && !j->give_up) {
        j->give_up = true;
        snprintf(j->give_up_reason, sizeof(j->give_up_reason),
                 "the outputs could not be produced after %d attempts: %s", j->delivery_failures,
                 rd_kafka_err2str(derr));
    }
    runtimeRetry(rt, p, j);
}

static void runtimeSucceeded(runtime *rt, tracker_part *p, job *j) {
    status_job sj = {.dead_letter_code = EVENT_ERR_NONE,
                     .results = j->nresults,
                     .matches = j->nmatches,
                     .bytes_scanned = j->bytes_scanned,
                     .stale = j->stale,
                     .fetch_ms = j->timings.fetch_ms,
                     .crawl_ms = j->timings.crawl_ms,
                     .match_ms = j->timings.match_ms,
                     .total_ms = j->timings.total_ms};
    log_fields f = runtimeJobFields(j);
    f.has_timings = true;
    f.fetch_ms = j->timings.fetch_ms;
    f.crawl_ms = j->timings.crawl_ms;
    f.match_ms = j->timings.match_ms;
    f.total_ms = j->timings.total_ms;
    if (j->dead_lettered) {
        event_error code = eventErrorFromName(j->error_code);
        sj.dead_letter_code = code == EVENT_ERR_NONE ? EVENT_ERR_INTERNAL : code;
        sj.dead_letters = 1;
        f.error_code = j->error_code;
        rt->counts.dead_letters++;
        logMsg(CONFIG_LOG_WARN, &f, "dead-lettered: %s", j->error_message);
    } else {
        rt->counts.results += j->nresults;
        rt->counts.matches += j->nmatches;
        logMsg(CONFIG_LOG_INFO, &f, "processed: %llu result(s), %llu match event(s)",
               (unsigned long long)j->nresults, (unsigned long long)j->nmatches);
    }
    statusJobDone(&rt->st, &sj);
    if (j->retrying) {
        j->retrying = false;
        trackerRetryEnd(p);
    }
    trackerDone(rt->tr, p, j->epoch, j->offset);
}

static void runtimeJobDone(runtime *rt, job *j) {
    tracker_part *p = trackerFind(rt->tr, j->topic, j->partition);
    int derr = atomic_load(&j->delivery_err);

    /* Revoked (maybe assigned again since): the result belongs to nobody. */
    if (j->abandoned || !p || !trackerAssigned(p) || trackerEpoch(p) != j->epoch) {
        jobFree(j);
        return;
    }
    if ((j->failed || derr) && (trackerIsRevoking(p) || rt->stopping)) {
        jobFree(j); /* no retry for work we are handing over: not committed */
        return;
    }
    if (j->failed)
        runtimeFailedTransient(rt, p, j);
    else if (derr)
        runtimeFailedDelivery(rt, p, j, derr);
    else {
        runtimeSucceeded(rt, p, j);
        jobFree(j);
    }
}

void runtimeDrainDone(runtime *rt) {
    job *j = workersTakeDone(rt->wk);
    bool any = j != NULL;
    while (j) {
        job *next = j->next;
        tracker_part *p = trackerFind(rt->tr, j->topic, j->partition);
        rt->jobs_away--;
        if (p)
            trackerAway(p, j->epoch, -1);
        runtimeJobDone(rt, j);
        j = next;
    }
    if (any) {
        trackerBackpressure(rt->tr, rt->cfg->max_inflight_events, rt->cfg->max_inflight_bytes);
        runtimeApplyPauses(rt);
    }
}

void runtimeDispatch(runtime *rt, int64_t now_ms) {
    while (rt->waiting && rt->waiting->due_ms <= now_ms) {
        job *j = rt->waiting, *next = j->next;
        tracker_part *p = trackerFind(rt->tr, j->topic, j->partition);
        /* From here a worker may own j (and reuse j->next): next read first. */
        if (!workersSubmit(rt->wk, j))
            return;
        rt->waiting = next;
        rt->jobs_away++;
        if (p)
            trackerAway(p, j->epoch, 1);
    }
}

int64_t runtimeNextDue(const runtime *rt, int64_t now_ms) {
    if (!rt->waiting)
        return -1;
    return rt->waiting->due_ms > now_ms ? rt->waiting->due_ms - now_ms : 0;
}

void runtimeDropWaiting(runtime *rt) {
    while (rt->waiting) {
        job *j = rt->waiting;
        rt->waiting = j->next;
        jobFree(j);
    }
}

/* ------------------------------------------------------------ pause/resume */

void runtimeApplyPauses(runtime *rt) {
    rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < trackerCount(rt->tr); i++) {
        tracker_part *p = trackerAt(rt->tr, i);
        if (!trackerAssigned(p))
            continue;
        bool want = rt->stopping || trackerWantPaused(rt->tr, p);
        if (want != trackerPaused(p))
            rd_kafka_topic_partition_list_add(want ? pause : resume, trackerTopic(p),
                                              trackerPartition(p));
    }
    if (pause->cnt > 0)
        rd_kafka_pause_partitions(rt->consumer, pause);
    if (resume->cnt > 0)
        rd_kafka_resume_partitions(rt->consumer, resume);
    for (int k = 0; k < 2; k++) {
        rd_kafka_topic_partition_list_t *l = k == 0 ? pause : resume;
        for (int i = 0; i < l->cnt; i++) {
            tracker_part *p = trackerFind(rt->tr, l->elems[i].topic, l->elems[i].partition);
            if (p && !l->elems[i].err)
                trackerSetPaused(p, k == 0);
            log_fields f = {.component = "consume",
                            .topic = l->elems[i].topic,
                            .partition = l->elems[i].partition,
                            .offset = -1};
            logMsg(CONFIG_LOG_DEBUG, &f, "%s", k == 0 ? "paused" : "resumed");
        }
    }
    rd_kafka_topic_partition_list_destroy(pause);
    rd_kafka_topic_partition_list_destroy(resume);
}

/* ------------------------------------------------------------ commits */

void runtimeCommit(runtime *rt, bool sync, tracker_part *only) {
    int64_t now = clockMonoMs();
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < trackerCount(rt->tr); i++) {
        tracker_part *p = trackerAt(rt->tr, i);
        if (only && p != only)
            continue;
        /* A sync commit resends even what is in flight: it must know. */
        if (!trackerCommitDue(p, now, sync ? 0 : RUNTIME_COMMIT_RESEND_MS))
            continue;
        rd_kafka_topic_partition_list_add(l, trackerTopic(p), trackerPartition(p))->offset =
            trackerCommitPosition(p);
        trackerCommitSent(p, trackerCommitPosition(p), now);
    }
    rt->last_commit_ms = now;
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(rt->consumer, l, sync ? 0 : 1);
    if (sync)
        runtimeCommitResult(rt, err, l);
    else if (err)
        runtimeCommitResult(rt, err, l);
    rd_kafka_topic_partition_list_destroy(l);
}

void runtimeCommitResult(void *opaque, rd_kafka_resp_err_t err,
                         const rd_kafka_topic_partition_list_t *offsets) {
    runtime *rt = opaque;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET || !offsets)
        return;
    for (int i = 0; i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &offsets->elems[i];
        tracker_part *p = trackerFind(rt->tr, e->topic, e->partition);
        bool ok = !err && !e->err;
        if (!p || !trackerAssigned(p) || e->offset < 0)
            continue;
        trackerCommitResult(p, e->offset, ok);
        statusCommit(&rt->st, ok);
        log_fields f = {.component = "consume",
                        .topic = e->topic,
                        .partition = e->partition,
                        .offset = e->offset,
                        .error_code = ok ? NULL : rd_kafka_err2name(err ? err : e->err)};
        if (ok)
            logMsg(CONFIG_LOG_DEBUG, &f, "committed");
        else
            logMsg(CONFIG_LOG_WARN, &f, "commit failed, will retry: %s",
                   rd_kafka_err2str(err ? err : e->err));
    }
}

void runtimeDelivery(void *opaque, const rd_kafka_message_t *msg) {
    runtime *rt = opaque;
    if (!msg->err)
        statusSetBrokerReachable(&rt->st, true, clockWallMs());
    workersDelivery(rt->wk, msg);
}

void runtimeKafkaFatal(void *opaque, const char *client, const char *reason) {
    runtimeFatal(opaque, "%s: %s", client, reason);
}

/* ------------------------------------------------------------ status */

static void runtimePartitionsStatus(runtime *rt) {
    size_t n = trackerAssignedCount(rt->tr), k = 0;
    status_partition *parts = n ? calloc(n, sizeof(*parts)) : NULL;
    if (n && !parts)
        return;
    for (size_t i = 0; i < trackerCount(rt->tr) && k < n; i++) {
        tracker_part *p = trackerAt(rt->tr, i);
        if (!trackerAssigned(p))
            continue;
        status_partition *s = &parts[k++];
        snprintf(s->topic, sizeof(s->topic), "%s", trackerTopic(p));
        s->partition = trackerPartition(p);
        s->paused = trackerPaused(p);
        s->inflight_events = (int64_t)trackerInflight(p);
        s->committed = trackerCommitted(p);
        s->high_watermark = -1;
        s->lag = -1;
    }
    statusSetPartitions(&rt->st, parts, k);
    free(parts);
}

void runtimeTick(runtime *rt, int64_t now_ms) {
    status_gauges g = {
        .inflight_events = trackerInflightEvents(rt->tr),
        .inflight_bytes = trackerInflightBytes(rt->tr),
        .assigned_partitions = (int64_t)trackerAssignedCount(rt->tr),
        .paused_partitions = (int64_t)trackerPausedCount(rt->tr),
        .producer_queue_depth = rt->producer ? rd_kafka_outq_len(rt->producer) : 0,
        .winapi_loaded = pipelineReady(rt->pipe) != 0,
    };
    statusTick(&rt->st, clockWallMs(), &g);
    if (now_ms - rt->last_status_ms >= 1000) {
        artifact_stats a;
        pipelineArtifactStats(rt->pipe, &a);
        statusSetArtifacts(&rt->st, &a);
        runtimePartitionsStatus(rt);
        rt->last_status_ms = now_ms;
    }
    if (rt->opts.until_end && !rt->stopping && trackerAtEnd(rt->tr)) {
        logComponent(CONFIG_LOG_INFO, "consume", "--until-end: every partition is at its end");
        rt->finished = true;
        rt->stopping = true;
    }
}
