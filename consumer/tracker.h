/*
 * tracker.h - per-partition in-flight offsets and the in-order commit rule.
 *
 * An input offset N may be committed (as N+1, Kafka's "next offset to read")
 * only when every message of the partition at or below N that this process
 * received has completed: all its output records acknowledged by the broker.
 * Workers finish out of order, so the tracker keeps, per partition, the
 * received offsets still in flight in receive order (which is offset order:
 * a partition is consumed sequentially) with a done flag each; completing
 * the front pops every done entry and moves the commit position past them.
 * A message that failed transiently simply stays not-done, so nothing after
 * it is committed until its retry completes.
 *
 * Partitions are remembered for the life of the process (assigned or not):
 * "first assignment" drives the one-time replay seek, and the until-end
 * watermark is recorded once. Each assignment starts a new epoch; a job
 * carries the epoch it was received in, and a completion from an older epoch
 * (the partition was revoked and maybe assigned back meanwhile) changes
 * nothing, so abandoned work can never move a commit position.
 *
 * Commits are asynchronous: the tracker remembers what was sent and what the
 * broker confirmed, and says when a (re)send is due.
 *
 * Backpressure: global counts of in-flight events and bytes (input message
 * sizes) with a hysteresis: pause all partitions at the limit, resume at half
 * of it. A pause makes librdkafka drop what it prefetched, and a resumed
 * partition is fetched again only on the broker thread's next wake-up (up to
 * fetch.wait.max.ms, or 1 s when every partition was paused, in 2.0.2), so
 * each pause/resume cycle costs a refetch and up to a second of idle input:
 * the wide hysteresis makes the cycles rare, and max_inflight_events should
 * cover about a second of throughput (an in-flight event costs its message
 * bytes only; dumps are pulled by the workers).
 *
 * Pure bookkeeping: no Kafka calls, no clock, no threads. Thread-safety:
 * none; the runtime's main thread owns the tracker.
 */
#ifndef APIVECTOR_TRACKER_H
#define APIVECTOR_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tracker tracker;
typedef struct tracker_part tracker_part;

typedef enum tracker_verdict {
    TRACKER_ACCEPT = 0,   /* new offset: process it */
    TRACKER_DUPLICATE,    /* at or below an offset already received this epoch: skip */
    TRACKER_NOT_ASSIGNED, /* partition not assigned or being revoked: drop */
    TRACKER_NOMEM,
} tracker_verdict;

/* A new tracker, or NULL when memory runs out. Free with trackerFree. */
tracker *trackerNew(void);
void trackerFree(tracker *t);

/* Starts an assignment of topic/partition: creates the partition or
 * re-activates it with a new epoch and nothing in flight. *first (may be NULL)
 * says whether the partition was never assigned before in this process.
 * Returns NULL when memory runs out. */
tracker_part *trackerAssign(tracker *t, const char *topic, int32_t partition, bool *first);

/* Ends an assignment: entries still in flight are dropped (their jobs are
 * abandoned: no commit for them), commit state is reset. */
void trackerUnassign(tracker *t, tracker_part *p);

/* Marks a partition as being revoked: new messages are refused. */
void trackerRevoking(tracker_part *p);

/* Finds a partition (assigned or not), NULL when unknown. */
tracker_part *trackerFind(const tracker *t, const char *topic, int32_t partition);

/* All partitions ever assigned, for iteration: index 0..trackerCount-1. */
size_t trackerCount(const tracker *t);
tracker_part *trackerAt(const tracker *t, size_t i);

/* Registers a received message of bytes bytes. */
tracker_verdict trackerReceive(tracker *t, tracker_part *p, int64_t offset, uint64_t bytes);

/* Marks offset done when epoch is the partition's current epoch. Returns
 * true when the commit position moved forward. */
bool trackerDone(tracker *t, tracker_part *p, uint32_t epoch, int64_t offset);

/* A job of this partition waits for a retry (Begin) or has finished its
 * retry (End); while any waits, the partition wants to be paused. */
void trackerRetryBegin(tracker_part *p);
void trackerRetryEnd(tracker_part *p);

/* Jobs of this partition handed to the workers and not back yet (the
 * revoke waits for them). delta is applied only when epoch is current. */
void trackerAway(tracker_part *p, uint32_t epoch, int delta);
int trackerAwayCount(const tracker_part *p);

/* Accessors. */
const char *trackerTopic(const tracker_part *p);
int32_t trackerPartition(const tracker_part *p);
uint32_t trackerEpoch(const tracker_part *p);
bool trackerAssigned(const tracker_part *p);
bool trackerIsRevoking(const tracker_part *p);
size_t trackerInflight(const tracker_part *p); /* received, not yet done */
int trackerRetrying(const tracker_part *p);
/* Next offset to commit: one past the highest offset below which everything
 * received is done; -1 when nothing was completed in this epoch. */
int64_t trackerCommitPosition(const tracker_part *p);

/* Commit bookkeeping. A commit is due when the position is ahead of what the
 * broker confirmed and it was not sent yet, or was sent more than resend_ms
 * ago without an answer. */
bool trackerCommitDue(const tracker_part *p, int64_t now_ms, int64_t resend_ms);
void trackerCommitSent(tracker_part *p, int64_t offset, int64_t now_ms);
/* The broker's answer to a commit of offset (ok or not). */
void trackerCommitResult(tracker_part *p, int64_t offset, bool ok);
/* Last committed offset confirmed (or known at assignment); -1 unknown. */
int64_t trackerCommitted(const tracker_part *p);
/* Sets the committed position known at assignment (replay start or the
 * group's committed offset); ignored when not >= 0. */
void trackerSetCommitted(tracker_part *p, int64_t offset);

/* Pause state: what the runtime applied (SetPaused) and what it should be
 * (WantPaused: a retry waits, or backpressure). */
void trackerSetPaused(tracker_part *p, bool paused);
bool trackerPaused(const tracker_part *p);
bool trackerWantPaused(const tracker *t, const tracker_part *p);

/* Backpressure over all partitions: on at max_events or max_bytes, off again
 * at or below half of both. Returns whether it is on. */
bool trackerBackpressure(tracker *t, int64_t max_events, int64_t max_bytes);
int64_t trackerInflightEvents(const tracker *t);
int64_t trackerInflightBytes(const tracker *t);

/* Until-end: the end offset (high watermark) of a partition, recorded once;
 * -1 = none. trackerAtEnd: at least one partition is assigned and every
 * assigned one has an end and a confirmed committed position >= it. */
void trackerSetEnd(tracker_part *p, int64_t end);
int64_t trackerEnd(const tracker_part *p);
bool trackerAtEnd(const tracker *t);

/* Counts of assigned and paused partitions. */
size_t trackerAssignedCount(const tracker *t);
size_t trackerPausedCount(const tracker *t);

#endif
