/*
 * rebalance.c - partitions coming and going (the rebalance callback, served
 * on the main thread inside rd_kafka_consumer_poll or consumer close).
 *
 * Assign: each partition starts a new tracker epoch. The first time a
 * partition is assigned in this process, the replay options apply: seek to
 * the beginning, or to the offset Kafka finds for --from-timestamp; with
 * --until-end its high watermark is recorded as its end, and the position it
 * starts from (seek target or the group's committed offset) counts as
 * committed, so a partition already at its end needs no message.
 *
 * Revoke (cooperative: only the partitions that move): new messages for them
 * are refused, jobs not yet started are dropped (the next owner will process
 * them), jobs in the workers get up to shutdown_timeout_ms to finish (while
 * shutting down: until the drain's deadline, usually passed by then), what is
 * complete is committed synchronously, and the rest is abandoned without a
 * commit: at-least-once, never a commit past unfinished work. When the
 * assignment was lost (session timeout, fenced) nothing is committed: the
 * partitions may already belong to someone else.
 *
 * The eager protocol (a user-set partition.assignment.strategy of range or
 * roundrobin) works the same way with full assign/unassign.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "runtime.h"

static void rebalanceLogList(const char *what, const rd_kafka_topic_partition_list_t *parts) {
    char buf[1024];
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && off + 32 < sizeof(buf); i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s [%d]", i ? ", " : "",
                                parts->elems[i].topic, (int)parts->elems[i].partition);
    /* The cooperative protocol reports empty increments too: not news. */
    logComponent(parts->cnt ? CONFIG_LOG_INFO : CONFIG_LOG_DEBUG, "consume",
                 "%s %d partition(s): %s", what, parts->cnt, buf);
}

/* --from-timestamp: looks up the offsets of the partitions assigned for the
 * first time and stores them into parts. */
static void rebalanceTimestamps(runtime *rt, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                const bool *first) {
    rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        if (first[i])
            rd_kafka_topic_partition_list_add(q, parts->elems[i].topic, parts->elems[i].partition)
                ->offset = rt->opts.from_timestamp_ms;
    }
    if (q->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, q, RUNTIME_LOOKUP_TIMEOUT_MS);
        for (int i = 0; i < q->cnt && !atomic_load(&rt->fatal); i++) {
            const rd_kafka_topic_partition_t *e = &q->elems[i];
            rd_kafka_resp_err_t perr = err ? err : e->err;
            char msg[AV_ERRLEN];
            int64_t offset;
            if (replayTimestampOffset(e->topic, e->partition, perr, rd_kafka_err2str(perr),
                                      e->offset, &offset, msg, sizeof(msg)) != AV_OK) {
                runtimeFatal(rt, "%s", msg);
                break;
            }
            rd_kafka_topic_partition_t *target =
                rd_kafka_topic_partition_list_find(parts, e->topic, e->partition);
            if (target)
                target->offset = offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(q);
}

/* --until-end: the end of each partition (recorded once) and where its
 * consumption starts. */
static void rebalanceEnds(runtime *rt, rd_kafka_t *rk,
                          const rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, committed, RUNTIME_LOOKUP_TIMEOUT_MS);
    bool earliest = replayResetIsEarliest(configKafkaGet(rt->cfg, "auto.offset.reset"));
    if (err) {
        runtimeFatal(rt, "--until-end: cannot read the committed offsets: %s",
                     rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(committed);
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &parts->elems[i];
        tracker_part *p = trackerFind(rt->tr, e->topic, e->partition);
        int64_t lo = 0, hi = 0;
        err = rd_kafka_query_watermark_offsets(rk, e->topic, e->partition, &lo, &hi,
                                               RUNTIME_LOOKUP_TIMEOUT_MS);
        if (err) {
            runtimeFatal(rt, "--until-end: cannot read the watermarks of %s [%d]: %s", e->topic,
                         (int)e->partition, rd_kafka_err2str(err));
            break;
        }
        if (trackerEnd(p) < 0)
            trackerSetEnd(p, hi);
        int64_t start =
            replayStartPosition(e->offset, committed->elems[i].offset, lo, hi, earliest);
        trackerSetCommitted(p, start);
        log_fields f = {
            .component = "consume", .topic = e->topic, .partition = e->partition, .offset = start};
        logMsg(CONFIG_LOG_INFO, &f, "--until-end: starts at %lld, ends at %lld", (long long)start,
               (long long)trackerEnd(p));
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

static void rebalanceAssign(runtime *rt, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                            bool cooperative) {
    bool *first = calloc((size_t)parts->cnt + 1, sizeof(bool));
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = 0;

    if (!first) {
        runtimeFatal(rt, "out of memory in a rebalance");
        return;
    }
    rebalanceLogList("assigned", parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *e = &parts->elems[i];
        if (!trackerAssign(rt->tr, e->topic, e->partition, &first[i])) {
            runtimeFatal(rt, "out of memory in a rebalance");
            break;
        }
        e->offset = replayAssignOffset(rt->opts.replay, first[i]);
    }
    if (rt->opts.replay == REPLAY_FROM_TIMESTAMP && !atomic_load(&rt->fatal))
        rebalanceTimestamps(rt, rk, parts, first);
    if (rt->opts.until_end && !atomic_load(&rt->fatal))
        rebalanceEnds(rt, rk, parts);
    free(first);

    /* Assign even after a fatal error, to keep librdkafka's state in step;
     * the stopping runtime takes no message anyway. */
    if (cooperative)
        error = rd_kafka_incremental_assign(rk, parts);
    else
        err = rd_kafka_assign(rk, parts);
    if (error || err) {
        runtimeFatal(rt, "cannot assign partitions: %s",
                     error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
        rd_kafka_error_destroy(error);
        return;
    }
    /* A partition paused in an earlier assignment may still carry the pause
     * flag: resume explicitly (a no-op otherwise), then pause what should be. */
    rd_kafka_resume_partitions(rk, parts);
    runtimeApplyPauses(rt);
    statusSetGroupJoined(&rt->st, true);
}

static bool rebalanceIsRevoking(const job *j, void *ctx) {
    runtime *rt = ctx;
    tracker_part *p = trackerFind(rt->tr, j->topic, j->partition);
    return p && trackerIsRevoking(p);
}

/* Drops the jobs of revoking partitions that no worker has started. */
static size_t rebalanceDropUnstarted(runtime *rt) {
    size_t n = 0;
    job **pp = &rt->waiting;
    while (*pp) {
        job *j = *pp;
        if (rebalanceIsRevoking(j, rt)) {
            *pp = j->next;
            jobFree(j);
            n++;
        } else {
            pp = &j->next;
        }
    }
    job *c = workersCancel(rt->wk, rebalanceIsRevoking, rt);
    while (c) {
        job *next = c->next;
        tracker_part *p = trackerFind(rt->tr, c->topic, c->partition);
        rt->jobs_away--;
        trackerAway(p, c->epoch, -1);
        jobFree(c);
        n++;
        c = next;
    }
    return n;
}

static size_t rebalanceAwayCount(runtime *rt, const rd_kafka_topic_partition_list_t *parts) {
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        tracker_part *p = trackerFind(rt->tr, parts->elems[i].topic, parts->elems[i].partition);
        n += p && trackerAssigned(p) ? (size_t)trackerAwayCount(p) : 0;
    }
    return n;
}

/* Lets the workers finish the revoked partitions' jobs, up to the deadline
 * or a second signal. */
static void rebalanceWait(runtime *rt, const rd_kafka_topic_partition_list_t *parts) {
    int64_t deadline = clockMonoMs() + rt->cfg->shutdown_timeout_ms;
    /* While shutting down, the drain's deadline bounds every wait. */
    if (rt->stopping && rt->drain_deadline < deadline)
        deadline = rt->drain_deadline;
    while (rebalanceAwayCount(rt, parts) > 0 && clockMonoMs() < deadline &&
           atomic_load(&rt->signals) < 2 && !rt->fast) {
        rd_kafka_poll(rt->producer, 10); /* delivery reports */
        runtimeDrainDone(rt);
        runtimeTick(rt, clockMonoMs()); /* /healthz: the loop is busy, not stuck */
    }
}

static void rebalanceRevoke(runtime *rt, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                            bool cooperative) {
    bool lost = rd_kafka_assignment_lost(rk) != 0;
    rebalanceLogList(lost ? "lost" : "revoked", parts);
    for (int i = 0; i < parts->cnt; i++) {
        tracker_part *p = trackerFind(rt->tr, parts->elems[i].topic, parts->elems[i].partition);
        if (p && trackerAssigned(p))
            trackerRevoking(p);
    }
    size_t dropped = rebalanceDropUnstarted(rt);
    size_t abandoned = 0;
    if (!lost) {
        rebalanceWait(rt, parts);
        abandoned = rebalanceAwayCount(rt, parts);
        runtimeCommit(rt, true, NULL);
    } else {
        abandoned = rebalanceAwayCount(rt, parts);
    }
    for (int i = 0; i < parts->cnt; i++) {
        tracker_part *p = trackerFind(rt->tr, parts->elems[i].topic, parts->elems[i].partition);
        if (p && trackerAssigned(p))
            trackerUnassign(rt->tr, p);
    }
    if (dropped || abandoned)
        logComponent(CONFIG_LOG_INFO, "consume",
                     "revoke: %zu unstarted and %zu unfinished job(s) left to the next owner",
                     dropped, abandoned);

    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = 0;
    if (cooperative)
        error = rd_kafka_incremental_unassign(rk, parts);
    else
        err = rd_kafka_assign(rk, NULL);
    if (error || err) {
        logComponent(CONFIG_LOG_ERROR, "consume", "cannot unassign partitions: %s",
                     error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
        rd_kafka_error_destroy(error);
    }
    trackerBackpressure(rt->tr, rt->cfg->max_inflight_events, rt->cfg->max_inflight_bytes);
}

void runtimeRebalance(void *opaque, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts) {
    runtime *rt = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rebalanceAssign(rt, rk, parts, cooperative);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        rebalanceRevoke(rt, rk, parts, cooperative);
    } else {
        /* librdkafka's contract for a rebalance error: drop the assignment. */
        logComponent(CONFIG_LOG_ERROR, "consume", "rebalance failed: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_t *all = NULL;
        if (rd_kafka_assignment(rk, &all) == 0 && all) {
            rebalanceRevoke(rt, rk, all, cooperative);
            rd_kafka_topic_partition_list_destroy(all);
        }
        if (!cooperative)
            rd_kafka_assign(rk, NULL);
    }
}
