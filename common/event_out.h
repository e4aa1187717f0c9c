/*
 * event_out.h - build the output events: apivector.result.v1,
 * apivector.match.v1 and apivector.dead-letter.v1.
 *
 * Each builder takes a plain struct that borrows the caller's data (the engine's
 * results are copied into these structs by the consumer, so this module does
 * not depend on the engine) and returns the event as one line of compact JSON.
 * A builder checks what the schema requires before building (ranges, hex
 * formats, vector alphabet, sorted scores, valid UTF-8) and refuses with
 * AV_ERR_USAGE and a message naming the field rather than emit an event that
 * breaks its contract: a bug then shows up as an error, not as bad data in a
 * topic. tests/integration/test_event_schema.sh validates real builder output
 * against schemas/ with python3-jsonschema.
 *
 * Addresses are written as "0x..." lower-case hex strings (JSON integers above
 * 2^53 are not portable); offsets, sizes and counts as integers.
 *
 * Thread-safety: every function is reentrant. The returned string is owned by
 * the caller (free()).
 */
#ifndef APIVECTOR_EVENT_OUT_H
#define APIVECTOR_EVENT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"

#define EVENT_RESULT_SCHEMA "apivector.result.v1"
#define EVENT_MATCH_SCHEMA "apivector.match.v1"
#define EVENT_DEAD_LETTER_SCHEMA "apivector.dead-letter.v1"
#define EVENT_OUT_MAX_TOP 10         /* schema bound of match.top */
#define EVENT_OUT_MAX_KEY_BYTES 1024 /* a dead letter keeps at most this much of the key */

/* Where the input event was read. */
typedef struct event_source {
    const char *topic;
    int32_t partition; /* >= 0 */
    int64_t offset;    /* >= 0 */
} event_source;

/* One row of the filtered API list. */
typedef struct event_out_api {
    uint64_t offset;     /* in the dump */
    uint64_t address;    /* the API's address found there */
    const char *dll;     /* non-empty */
    const char *api;     /* non-empty */
    int bitness;         /* 32 or 64 */
    int in_import_table; /* 1 yes, 0 no, -1 unknown (written as null) */
    uint32_t refs;       /* >= 1 */
} event_out_api;

/* Wall-clock milliseconds per stage, each >= 0. */
typedef struct event_timings {
    double fetch, crawl, match, total;
} event_timings;

/* Input of eventOutResult(). Every string is required unless marked. */
typedef struct event_result {
    const char *event_id;
    event_source source;
    const char *dump_url;
    const char *dump_sha256; /* computed while streaming; 64 lower-case hex */
    uint64_t dump_size;      /* <= 2^63-1 */
    const char *dump_name;   /* the name used for base-address inference (may be "") */
    uint64_t base_address;   /* the base address used */
    const char *vm_name;
    const char *db;          /* os_name of the primary DB */
    const char *vector;      /* compressed; the tag is built from it */
    int32_t in_api_vector;   /* 0..1024 */
    int32_t num_unique_apis; /* >= 0 */
    double percentage;       /* 0..100 */
    double confidence;       /* 0..100 */
    bool include_apis;       /* false: no "apis" key at all */
    const event_out_api *apis;
    size_t napis;
    /* optional: why the API list was left out of an event that asked for it
     * (e.g. the event would exceed the broker's message size); napis is then
     * still the number of rows left out, and include_apis must be false */
    const char *apis_omitted;
    bool stale;
    const char *match_skipped; /* optional: reason no match event was produced */
    event_timings timings_ms;
    const char *engine_version;
    const char *winapi1024_sha256; /* 64 lower-case hex */
    int64_t produced_at_ms;        /* Unix time in ms; <= 0 means now */
} event_result;

/* One scored collection entry (match.top) or family (match.families, where
 * sample is ignored). */
typedef struct event_out_score {
    const char *family;
    const char *sample;
    double score; /* 0..1 */
} event_out_score;

typedef enum event_vector_source {
    EVENT_VECTOR_FROM_DUMP,  /* "dump": computed from the dump */
    EVENT_VECTOR_FROM_EVENT, /* "event": given in the event's vectors field */
} event_vector_source;

/* Input of eventOutMatch(). */
typedef struct event_match {
    const char *event_id;
    event_source source;
    event_vector_source vector_source;
    const char *vector; /* compressed */
    double confidence;  /* 0..100 */
    const char *collection_name;
    const char *collection_sha256; /* 64 lower-case hex */
    int64_t collection_families;   /* >= 0 */
    int64_t collection_vectors;    /* >= 0 */
    const char *classification;    /* may be "" */
    const event_out_score *top;    /* at most EVENT_OUT_MAX_TOP, score descending */
    size_t ntop;
    const event_out_score *families; /* score descending */
    size_t nfamilies;
    int64_t produced_at_ms; /* <= 0 means now */
} event_match;

/* Input of eventOutDeadLetter(). */
typedef struct event_dead_letter {
    event_error code;    /* error.transient follows the code's class */
    const char *message; /* NULL or "" -> the code's description; bad UTF-8 replaced */
    event_source source;
    const void *key; /* message key bytes, NULL when the message had none */
    size_t keylen;
    const char *event_id; /* NULL when unreadable */
    int32_t attempts;     /* >= 1 */
    const void *value;    /* the original message value (NULL only with value_len 0) */
    size_t value_len;
    size_t max_value_bytes; /* dlq_max_value_bytes: at most this many bytes are kept */
    int64_t produced_at_ms; /* <= 0 means now */
} event_dead_letter;

/* Builds an apivector.result.v1 event. On success returns AV_OK and sets *json
 * (NUL-terminated, caller frees with free()) and *len (may be NULL). On a
 * field that breaks the contract returns AV_ERR_USAGE naming it; AV_ERR_NOMEM
 * when memory runs out. */
av_status eventOutResult(const event_result *r, char **json, size_t *len, char *err, size_t errlen);

/* Builds an apivector.match.v1 event; same contract as eventOutResult(). */
av_status eventOutMatch(const event_match *m, char **json, size_t *len, char *err, size_t errlen);

/* Builds an apivector.dead-letter.v1 event; same contract as eventOutResult().
 * The value is cut to max_value_bytes (on a character boundary when it is
 * text); when the kept bytes are valid UTF-8 without NUL bytes they are
 * written as text (original.encoding "utf-8"), otherwise as base64 ("base64"),
 * so the record is always valid JSON and no byte is lost or altered. The key is written as text
 * with invalid UTF-8 bytes replaced by U+FFFD, cut to EVENT_OUT_MAX_KEY_BYTES. */
av_status eventOutDeadLetter(const event_dead_letter *d, char **json, size_t *len, char *err,
                             size_t errlen);

/* Formats Unix milliseconds as RFC 3339 UTC with milliseconds,
 * "2024-05-01T12:00:00.123Z", into buf (at least 32 bytes). Returns buf. */
char *eventOutTimestamp(int64_t ms, char *buf, size_t buflen);

/* True when s[0..len) is valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF), the same rule jansson applies. */
bool eventOutIsUtf8(const void *s, size_t len);

/* Returns s[0..len) as a new NUL-terminated string with each byte that is not
 * part of valid UTF-8 replaced by U+FFFD (and U+0000 by U+FFFD). Caller frees;
 * NULL when memory runs out. */
char *eventOutUtf8Lossy(const void *s, size_t len);

#endif
