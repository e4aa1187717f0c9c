/*
 * event.h - the input event contract apivector.dump-ready.v1 and the error codes.
 *
 * eventParseDumpReady() turns the value of one Kafka message into an owned
 * event_dump_ready. It accepts exactly the documents that
 * schemas/apivector.dump-ready.v1.json accepts (tests/integration/
 * test_event_schema.sh runs every example under schemas/examples/ through both
 * and compares): the contract is closed, so an unknown key is an error, except
 * inside submission.tags and submission.metadata, where only vm_name is read.
 * A failure is classified as invalid_json (the bytes are not JSON) or
 * schema_violation (JSON that breaks the contract); the message names the JSON
 * path, e.g. "dump.url: expected a string, got an integer".
 *
 * The error-code table names every way an event can fail, each permanent (the
 * event goes to the dead-letter topic at once) or transient (retried with
 * backoff, dead-lettered after max_attempts). The codes are the `error.code`
 * of apivector.dead-letter.v1 and are documented in the README.
 *
 * Thread-safety: every function is reentrant; a parsed event is immutable and
 * may be read by several threads at once.
 */
#ifndef APIVECTOR_EVENT_H
#define APIVECTOR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Contract name carried in the "schema" field. */
#define EVENT_DUMP_READY_SCHEMA "apivector.dump-ready.v1"
/* Bounds shared with the JSON schema. */
#define EVENT_ID_MAX_CHARS 256
#define EVENT_MAX_VECTORS 1024

/* ---------------------------------------------------------------- error codes */

typedef enum event_error {
    EVENT_ERR_NONE = -1,
    EVENT_ERR_INVALID_JSON = 0,
    EVENT_ERR_SCHEMA_VIOLATION,
    EVENT_ERR_NO_VM_NAME,
    EVENT_ERR_UNKNOWN_VM_NAME,
    EVENT_ERR_ARTIFACT_UNAVAILABLE,
    EVENT_ERR_DUMP_NOT_FOUND,
    EVENT_ERR_DUMP_UNAVAILABLE,
    EVENT_ERR_DUMP_TOO_LARGE,
    EVENT_ERR_SHA256_MISMATCH,
    EVENT_ERR_SIZE_MISMATCH,
    EVENT_ERR_FILE_URL_FORBIDDEN,
    EVENT_ERR_INVALID_DUMP_URL,
    EVENT_ERR_INVALID_VECTOR,
    EVENT_ERR_SCAN_FAILED,
    EVENT_ERR_INTERNAL,
    EVENT_ERR_COUNT
} event_error;

/* One row of the error-code table. */
typedef struct event_error_info {
    const char *name;        /* e.g. "invalid_json"; the DLQ error.code */
    bool transient;          /* true: retry with backoff; false: dead-letter at once */
    const char *description; /* one line, for the README and --help */
} event_error_info;

/* Returns the table row of code (which must be < EVENT_ERR_COUNT and not
 * EVENT_ERR_NONE; anything else returns the row of EVENT_ERR_INTERNAL). The
 * row is static and constant. */
const event_error_info *eventErrorInfo(event_error code);

/* Returns the code's name, e.g. "dump_not_found" (static string). */
const char *eventErrorName(event_error code);

/* Looks a code up by name; returns EVENT_ERR_NONE for an unknown name. */
event_error eventErrorFromName(const char *name);

/* True when the named code is transient. Unknown names are permanent (false),
 * so a typo can never cause endless retries. */
bool eventErrorCodeIsTransient(const char *name);

/* --------------------------------------------------------------- the event */

/* The "dump" object. Strings are NUL-free UTF-8 owned by the event. */
typedef struct event_dump {
    char *url;     /* http://, https:// or file:// (only the scheme is checked here) */
    char *sha256;  /* 64 lower-case hex digits, or NULL when absent */
    bool has_size; /* size was given */
    uint64_t size; /* expected size in bytes (<= 2^63-1) */
    char *name;    /* dump.name as given, or NULL when absent */
    bool has_base_address;
    uint64_t base_address; /* from an integer or a "0x..." string */
    char *url_name;        /* last path segment of url (query and fragment cut,
                              %XX decoded); "" when the URL ends with '/' */
} event_dump;

/* A parsed apivector.dump-ready.v1 event. Absent optional strings are NULL. */
typedef struct event_dump_ready {
    char *event_id;
    bool has_dump;
    event_dump dump; /* valid only when has_dump */
    char *vm_name;
    char *sid;              /* submission.sid */
    char *tags_vm_name;     /* submission.tags.vm_name */
    char *metadata_vm_name; /* submission.metadata.vm_name */
    char *file_type;
    char **vectors; /* "in:num:compressed" strings, as given */
    size_t nvectors;
} event_dump_ready;

/* Parses one event from json[0..len) (need not be NUL-terminated). On success
 * returns AV_OK and sets *out to a new event the caller frees with
 * eventFree(). On failure returns AV_ERR_PARSE, sets *out to NULL, stores
 * EVENT_ERR_INVALID_JSON or EVENT_ERR_SCHEMA_VIOLATION in *code (if code is
 * not NULL) and writes a message into err: for invalid JSON it gives line and
 * column ("line 1, column 7: ..."), for a violation the JSON path
 * ("dump.sha256: expected 64 lower-case hex digits"). Returns AV_ERR_NOMEM
 * (code EVENT_ERR_INTERNAL) when memory runs out. */
av_status eventParseDumpReady(const char *json, size_t len, event_dump_ready **out,
                              event_error *code, char *err, size_t errlen);

/* Frees an event; NULL is allowed. */
void eventFree(event_dump_ready *ev);

/* Returns the top-level "event_id" of json[0..len) when the bytes are JSON with
 * a string event_id of 1..256 characters, even if the rest breaks the
 * contract, so a dead letter can name the event. Returns a new string the
 * caller frees with free(), or NULL. */
char *eventPeekId(const char *json, size_t len);

/* The vm_name naming the ApiScout DB for this event, in order: vm_name,
 * submission.tags.vm_name, submission.metadata.vm_name, then default_db when
 * file_type starts with "executable/windows" (and default_db is neither NULL
 * nor ""). Returns NULL when none applies (the caller's no_vm_name, unless the
 * event has vectors). The result points into ev or is default_db: it lives as
 * long as both. */
const char *eventResolveVmName(const event_dump_ready *ev, const char *default_db);

/* The dump's name for base-address inference: dump.name when given, else the
 * last path segment of the URL. NULL only when the event has no dump. Points
 * into ev. */
const char *eventDumpName(const event_dump_ready *ev);

/* True when s is a compressed ApiVector: 1..1024 characters of the 64-letter
 * alphabet plus run-length digits ([A-Za-z@}\]^+\-*_/?,.0-9]). */
bool eventIsVector(const char *s);

/* Splits a tag "in:num:compressed" (as in the event's vectors field). Returns
 * true and sets *in, *num and *vector (pointing into tag) when tag has that
 * form with 1..9 digits per count and a valid vector; false otherwise. */
bool eventSplitTag(const char *tag, int32_t *in, int32_t *num, const char **vector);

#endif
