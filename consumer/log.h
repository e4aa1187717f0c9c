/*
 * log.h - the consumer's structured log: one JSON object per line on stderr.
 *
 * Every line has "ts" (RFC 3339 UTC with milliseconds), "level" and "msg";
 * optional fields name the event and the step it was in: "component"
 * (consume, kafka, rdkafka, pipeline, ...), "event_id", "topic", "partition",
 * "offset", "attempt", "error_code", "facility" (librdkafka's) and
 * "timings_ms" {fetch, crawl, match, total}. Log shippers (Fluent Bit, Vector,
 * Loki) take such lines as they are.
 *
 * Secrets: the message text passes through a scrubber that replaces every
 * registered secret (logAddSecret: the Malpedia key, the Redis password, the
 * Kafka properties whose names look secret) by "***" wherever it appears, so
 * a secret that slips into an error message from a library still never
 * reaches the log. Lines below the configured level cost one comparison.
 *
 * Thread-safety: logMsg and logRdkafka may be called from any thread (worker
 * threads, librdkafka's internal threads); a line is written with one write(2)
 * under a mutex, so lines never interleave. logSetLevel and logAddSecret must
 * be called before other threads start logging; logReset after they stopped.
 * The module keeps process-wide state (the level, the secrets): stderr is
 * one per process anyway.
 */
#ifndef APIVECTOR_LOG_H
#define APIVECTOR_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* Optional context of one line; zero-initialise and fill what applies. */
typedef struct log_fields {
    const char *component;  /* e.g. "consume"; NULL: omitted */
    const char *event_id;   /* NULL: omitted */
    const char *topic;      /* NULL: topic, partition and offset omitted */
    int32_t partition;      /* with topic */
    int64_t offset;         /* with topic; < 0: omitted */
    int attempt;            /* 0: omitted */
    const char *error_code; /* NULL: omitted */
    const char *facility;   /* librdkafka's log facility; NULL: omitted */
    bool has_timings;       /* true: timings_ms is written */
    double fetch_ms, crawl_ms, match_ms, total_ms;
} log_fields;

/* Sets the lowest level written (default info). */
void logSetLevel(config_log_level level);

/* True when a line at level would be written (skip expensive formatting). */
bool logEnabled(config_log_level level);

/* Registers a secret to scrub from every message; values shorter than 4
 * bytes are ignored (they would mask ordinary words). The text is copied. */
void logAddSecret(const char *secret);

/* Writes one line; f may be NULL. */
void logMsg(config_log_level level, const log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shortcut: a line with only a component. */
void logComponent(config_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Maps a syslog level (librdkafka's 0..7) to a log level. */
config_log_level logFromSyslog(int syslog_level);

/* Frees the registered secrets (wiped first) and restores the default level. */
void logReset(void);

/* Formats one line into buf (without writing it): the JSON object and a
 * newline, secrets scrubbed. Returns the length, or 0 when the line does not
 * fit or memory runs out. For tests and for logMsg. */
size_t logFormat(char *buf, size_t buflen, int64_t now_ms, config_log_level level,
                 const log_fields *f, const char *msg);

#endif
