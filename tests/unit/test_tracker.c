/*
 * test_tracker.c - the in-order commit rule of consumer/tracker.c.
 *
 * The tracker is pure bookkeeping, so these tests drive it the way the
 * runtime does (receive, complete out of order, fail and retry, revoke,
 * assign again, commit results) and check the commit position after each
 * step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "tracker.h"

#define T "apivector.dumps"

static tracker_part *assignOne(tracker *t, int32_t partition, bool *first) {
    tracker_part *p = trackerAssign(t, T, partition, first);
    assert_non_null(p);
    return p;
}

static void receiveRange(tracker *t, tracker_part *p, int64_t from, int64_t to, uint64_t bytes) {
    for (int64_t o = from; o <= to; o++)
        assert_int_equal(trackerReceive(t, p, o, bytes), TRACKER_ACCEPT);
}

/* Workers finish 2, 1, 4 before 0: nothing may be committed until 0 is done,
 * then everything up to the first gap. */
static void testOutOfOrderCompletion(void **state) {
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 0, NULL);
    uint32_t e = trackerEpoch(p);
    receiveRange(t, p, 0, 4, 10);
    assert_int_equal(trackerInflightEvents(t), 5);
    assert_int_equal(trackerInflightBytes(t), 50);

    assert_false(trackerDone(t, p, e, 2));
    assert_false(trackerDone(t, p, e, 1));
    assert_false(trackerDone(t, p, e, 4));
    assert_int_equal(trackerCommitPosition(p), -1);
    assert_false(trackerCommitDue(p, 0, 5000));

    assert_true(trackerDone(t, p, e, 0));
    assert_int_equal(trackerCommitPosition(p), 3); /* 0,1,2 done; 3 is not */
    assert_int_equal(trackerInflight(p), 1);
    assert_true(trackerDone(t, p, e, 3));
    assert_int_equal(trackerCommitPosition(p), 5);
    assert_int_equal(trackerInflightEvents(t), 0);
    assert_int_equal(trackerInflightBytes(t), 0);

    /* A second completion of the same offset changes nothing. */
    assert_false(trackerDone(t, p, e, 3));
    assert_int_equal(trackerCommitPosition(p), 5);
    trackerFree(t);
}

/* Compacted topics have gaps: the position follows the received offsets. */
static void testOffsetGaps(void **state) {
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 1, NULL);
    uint32_t e = trackerEpoch(p);
    assert_int_equal(trackerReceive(t, p, 10, 1), TRACKER_ACCEPT);
    assert_int_equal(trackerReceive(t, p, 12, 1), TRACKER_ACCEPT);
    assert_int_equal(trackerReceive(t, p, 15, 1), TRACKER_ACCEPT);
    assert_false(trackerDone(t, p, e, 15));
    assert_true(trackerDone(t, p, e, 10));
    assert_int_equal(trackerCommitPosition(p), 11);
    assert_true(trackerDone(t, p, e, 12));
    assert_int_equal(trackerCommitPosition(p), 16);
    assert_false(trackerDone(t, p, e, 11)); /* never received */
    trackerFree(t);
}

static void testDuplicatesAndUnassigned(void **state) {
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 0, NULL);
    receiveRange(t, p, 5, 6, 1);
    assert_int_equal(trackerReceive(t, p, 6, 1), TRACKER_DUPLICATE);
    assert_int_equal(trackerReceive(t, p, 2, 1), TRACKER_DUPLICATE);
    assert_int_equal(trackerInflightEvents(t), 2);

    trackerRevoking(p);
    assert_true(trackerIsRevoking(p));
    assert_int_equal(trackerReceive(t, p, 7, 1), TRACKER_NOT_ASSIGNED);
    trackerUnassign(t, p);
    assert_false(trackerAssigned(p));
    assert_int_equal(trackerReceive(t, p, 8, 1), TRACKER_NOT_ASSIGNED);
    assert_int_equal(trackerInflightEvents(t), 0); /* dropped with the assignment */
    assert_null(trackerFind(t, T, 9));
    trackerFree(t);
}

/* A transient failure keeps its offset open: later completions do not let
 * the position pass it, and the partition wants to be paused until the
 * retry completes. */
static void testRetryBlocksCommitAndPauses(void **state) {
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 2, NULL), *q = assignOne(t, 3, NULL);
    uint32_t e = trackerEpoch(p);
    receiveRange(t, p, 0, 3, 1);
    receiveRange(t, q, 0, 0, 1);
    assert_true(trackerDone(t, p, e, 0));
    trackerRetryBegin(p); /* offset 1 failed */
    assert_true(trackerWantPaused(t, p));
    assert_false(trackerWantPaused(t, q)); /* other partitions keep flowing */
    assert_false(trackerDone(t, p, e, 2));
    assert_false(trackerDone(t, p, e, 3));
    assert_int_equal(trackerCommitPosition(p), 1);

    trackerRetryEnd(p); /* the retry succeeded */
    assert_true(trackerDone(t, p, e, 1));
    assert_false(trackerWantPaused(t, p));
    assert_int_equal(trackerCommitPosition(p), 4);
    assert_true(trackerDone(t, q, trackerEpoch(q), 0));
    assert_int_equal(trackerCommitPosition(q), 1);
    trackerFree(t);
}

/* Revoked and assigned again: completions of the old epoch must not move
 * the new assignment's position, and the first-assignment flag is kept. */
static void testEpochAfterReassign(void **state) {
    tracker *t = trackerNew();
    bool first;
    tracker_part *p = assignOne(t, 0, &first);
    assert_true(first);
    uint32_t old = trackerEpoch(p);
    receiveRange(t, p, 0, 2, 1);
    trackerAway(p, old, 3);
    assert_int_equal(trackerAwayCount(p), 3);
    trackerRevoking(p);
    trackerUnassign(t, p);

    tracker_part *again = assignOne(t, 0, &first);
    assert_ptr_equal(again, p);
    assert_false(first);
    assert_int_not_equal(trackerEpoch(p), old);
    assert_int_equal(trackerAwayCount(p), 0);
    trackerAway(p, old, -1); /* a late job of the old epoch */
    assert_int_equal(trackerAwayCount(p), 0);
    receiveRange(t, p, 0, 1, 1); /* redelivered from the committed offset */
    assert_false(trackerDone(t, p, old, 0));
    assert_false(trackerDone(t, p, old, 1));
    assert_int_equal(trackerCommitPosition(p), -1);
    assert_true(trackerDone(t, p, trackerEpoch(p), 0));
    assert_int_equal(trackerCommitPosition(p), 1);
    trackerFree(t);
}

static void testCommitBookkeeping(void **state) {
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 0, NULL);
    uint32_t e = trackerEpoch(p);
    receiveRange(t, p, 0, 1, 1);
    assert_true(trackerDone(t, p, e, 0));
    assert_true(trackerCommitDue(p, 1000, 5000));
    trackerCommitSent(p, 1, 1000);
    assert_false(trackerCommitDue(p, 2000, 5000)); /* sent, no answer yet */
    assert_true(trackerCommitDue(p, 6000, 5000));  /* unanswered too long */
    trackerCommitResult(p, 1, true);
    assert_int_equal(trackerCommitted(p), 1);
    assert_false(trackerCommitDue(p, 7000, 5000));

    assert_true(trackerDone(t, p, e, 1));
    trackerCommitSent(p, 2, 8000);
    trackerCommitResult(p, 2, false); /* e.g. the coordinator was away */
    assert_int_equal(trackerCommitted(p), 1);
    assert_true(trackerCommitDue(p, 8001, 5000)); /* sent again at once */
    trackerCommitResult(p, 2, true);
    trackerCommitResult(p, 1, true); /* a late answer never moves it back */
    assert_int_equal(trackerCommitted(p), 2);
    trackerFree(t);
}

static void testBackpressureHysteresis(void **state) {
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 0, NULL), *q = assignOne(t, 1, NULL);
    uint32_t e = trackerEpoch(p);
    receiveRange(t, p, 0, 6, 1);
    assert_false(trackerBackpressure(t, 8, 1000));
    receiveRange(t, p, 7, 7, 1);
    assert_true(trackerBackpressure(t, 8, 1000)); /* 8 in flight: at the limit */
    assert_true(trackerWantPaused(t, p));
    assert_true(trackerWantPaused(t, q)); /* the limit is global */
    for (int64_t o = 0; o < 3; o++)
        assert_true(trackerDone(t, p, e, o));
    assert_true(trackerBackpressure(t, 8, 1000)); /* 5: still above half of 8 */
    assert_true(trackerDone(t, p, e, 3));
    assert_false(trackerBackpressure(t, 8, 1000)); /* 4: half */
    assert_false(trackerBackpressure(t, 8, 1000)); /* stays off below the limit */

    /* Bytes count the same way (4 bytes in flight from p, plus 900). */
    assert_int_equal(trackerReceive(t, q, 0, 900), TRACKER_ACCEPT);
    assert_true(trackerBackpressure(t, 100, 904));
    assert_true(trackerDone(t, q, trackerEpoch(q), 0));
    assert_false(trackerBackpressure(t, 100, 904));
    trackerFree(t);
}

/* Many messages completed in a scrambled order, across ring growth. */
static void testManyScrambled(void **state) {
    enum { N = 5000 };
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 0, NULL);
    uint32_t e = trackerEpoch(p);
    int64_t *order = malloc(N * sizeof(*order));
    uint64_t rng = 12345;
    receiveRange(t, p, 0, N - 1, 3);
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int j = (int)((rng >> 33) % (uint64_t)(i + 1));
        int64_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    bool *done = calloc(N, sizeof(*done));
    int64_t first_open = 0; /* lowest offset not done yet */
    for (int i = 0; i < N; i++) {
        trackerDone(t, p, e, order[i]);
        done[order[i]] = true;
        while (first_open < N && done[first_open])
            first_open++;
        /* The position is exactly the first offset not done (-1 before any). */
        assert_int_equal(trackerCommitPosition(p), first_open > 0 ? first_open : -1);
    }
    free(done);
    assert_int_equal(trackerCommitPosition(p), N);
    assert_int_equal(trackerInflightEvents(t), 0);
    free(order);
    trackerFree(t);
}

static void testUntilEnd(void **state) {
    tracker *t = trackerNew();
    assert_false(trackerAtEnd(t)); /* nothing assigned yet */
    tracker_part *p = assignOne(t, 0, NULL), *q = assignOne(t, 1, NULL);
    trackerSetEnd(p, 3);
    trackerSetCommitted(p, 0);
    trackerSetEnd(q, 0); /* an empty partition */
    trackerSetCommitted(q, 0);
    assert_false(trackerAtEnd(t));
    receiveRange(t, p, 0, 2, 1);
    for (int64_t o = 0; o <= 2; o++)
        trackerDone(t, p, trackerEpoch(p), o);
    assert_false(trackerAtEnd(t)); /* done but not committed */
    trackerCommitSent(p, 3, 0);
    trackerCommitResult(p, 3, true);
    assert_true(trackerAtEnd(t));
    assert_int_equal(trackerAssignedCount(t), 2);

    tracker_part *r = assignOne(t, 2, NULL); /* no end recorded */
    assert_false(trackerAtEnd(t));
    trackerUnassign(t, r);
    assert_true(trackerAtEnd(t));
    assert_int_equal(trackerEnd(r), -1);
    trackerFree(t);
}

static void testPausedCount(void **state) {
    tracker *t = trackerNew();
    tracker_part *p = assignOne(t, 0, NULL);
    assignOne(t, 1, NULL);
    trackerSetPaused(p, true);
    assert_true(trackerPaused(p));
    assert_int_equal(trackerPausedCount(t), 1);
    trackerUnassign(t, p);
    assert_int_equal(trackerPausedCount(t), 0);
    assert_int_equal(trackerCount(t), 2);
    assert_ptr_equal(trackerAt(t, 0), p);
    assert_null(trackerAt(t, 2));
    assert_string_equal(trackerTopic(p), T);
    assert_int_equal(trackerPartition(p), 0);
    trackerFree(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testOutOfOrderCompletion),
        cmocka_unit_test(testOffsetGaps),
        cmocka_unit_test(testDuplicatesAndUnassigned),
        cmocka_unit_test(testRetryBlocksCommitAndPauses),
        cmocka_unit_test(testEpochAfterReassign),
        cmocka_unit_test(testCommitBookkeeping),
        cmocka_unit_test(testBackpressureHysteresis),
        cmocka_unit_test(testManyScrambled),
        cmocka_unit_test(testUntilEnd),
        cmocka_unit_test(testPausedCount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
