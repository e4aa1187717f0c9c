/*
 * replay.h - where a replay starts and when it is finished.
 *
 * `apivector consume` can reprocess a historical topic: --from-beginning
 * seeks every partition to its start the first time it is assigned,
 * --from-timestamp T seeks to the first offset whose timestamp is >= T (Kafka
 * looks it up: rd_kafka_offsets_for_times), and --until-end records each
 * partition's high watermark and stops when the committed positions reached
 * them. The decisions are pure functions here, so they are unit-tested
 * (tests/unit/test_replay.c) without a broker: librdkafka 2.0.2's mock
 * cluster answers every timestamp lookup with -1, so the timestamp path
 * cannot be exercised end to end against the test broker.
 *
 * Offsets use librdkafka's logical values: RD_KAFKA_OFFSET_BEGINNING (-2),
 * RD_KAFKA_OFFSET_END (-1), RD_KAFKA_OFFSET_INVALID (-1001, "use the
 * committed offset").
 *
 * Thread-safety: all functions are reentrant.
 */
#ifndef APIVECTOR_REPLAY_H
#define APIVECTOR_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef enum replay_mode {
    REPLAY_COMMITTED = 0,  /* resume from the group's committed offsets */
    REPLAY_FROM_BEGINNING, /* --from-beginning */
    REPLAY_FROM_TIMESTAMP, /* --from-timestamp T */
} replay_mode;

/* Parses a --from-timestamp value: milliseconds since the Unix epoch (1 to
 * 16 decimal digits), or an RFC 3339 date-time with a zone
 * ("2024-05-01T12:00:00Z", "2024-05-01t12:00:00.250+02:00", a space instead
 * of T is accepted). Fractions beyond milliseconds are truncated; a leap
 * second (:60) is taken as the next second. Returns AV_ERR_PARSE with a
 * message naming the value and the problem; AV_ERR_RANGE for a time before
 * 1970. */
av_status replayParseTimestamp(const char *s, int64_t *ms, char *err, size_t errlen);

/* The offset to pass to incremental_assign for a partition assigned for the
 * first time: BEGINNING for --from-beginning, INVALID (committed offset) for
 * REPLAY_COMMITTED; for REPLAY_FROM_TIMESTAMP use replayTimestampOffset. A
 * partition assigned again later always resumes from the committed offset
 * (INVALID), so a rebalance never replays twice. */
int64_t replayAssignOffset(replay_mode mode, bool first_assignment);

/* Interprets one partition of an rd_kafka_offsets_for_times answer: err is
 * the partition's error (0 for none), found the offset it returned. Returns
 * AV_OK with *offset = found when found >= 0, or RD_KAFKA_OFFSET_END when
 * found is -1 (no message at or after the timestamp: nothing to replay in
 * this partition). Any error, or another negative value, returns
 * AV_ERR_TRANSIENT naming topic/partition: a replay must not silently start
 * elsewhere. */
av_status replayTimestampOffset(const char *topic, int32_t partition, int err_code,
                                const char *err_text, int64_t found, int64_t *offset, char *err,
                                size_t errlen);

/* Whether an auto.offset.reset value starts at the beginning of a partition
 * (earliest, smallest, beginning; NULL = the apivector default, earliest)
 * rather than its end. */
bool replayResetIsEarliest(const char *auto_offset_reset);

/* The position a partition's consumption effectively starts from, for
 * --until-end accounting: the seek target when one applies (assign_offset
 * BEGINNING -> low, END -> high, an offset >= 0 -> itself), else the group's
 * committed offset when there is one (>= 0), else low or high by
 * auto.offset.reset. Clamped into [low, high]. The partition is finished for
 * --until-end when its committed position reaches high, so a position
 * already at high needs no message at all. */
int64_t replayStartPosition(int64_t assign_offset, int64_t committed, int64_t low, int64_t high,
                            bool reset_earliest);

#endif
