/*
 * event_error.c - the error-code table: every way an event can fail, with its
 * class (permanent: dead-lettered at once; transient: retried with backoff,
 * dead-lettered after max_attempts) and a one-line description.
 *
 * The names are the error.code values of apivector.dead-letter.v1; the schema
 * lists them in the same order and tests/integration/test_event_schema.sh
 * compares the two through `event-tool codes`.
 */
#include "event.h"

#include <string.h>

/* Indexed by enum event_error. */
static const event_error_info eventErrors[EVENT_ERR_COUNT] = {
    {"invalid_json", false, "The message value is not JSON (or not UTF-8)."},
    {"schema_violation", false, "The value is JSON but breaks apivector.dump-ready.v1."},
    {"no_vm_name", false, "No vm_name in the event, no default_db applies, and no vectors."},
    {"unknown_vm_name", false, "The support server has no ApiScout DB for the vm_name (HTTP 404)."},
    {"artifact_unavailable", true,
     "A DB, collection or WinApi1024 table could not be fetched and no cached copy exists."},
    {"dump_not_found", false, "The dump URL answered 404/410, or the file does not exist."},
    {"dump_unavailable", true, "The dump could not be fetched now (timeout, 5xx, connection)."},
    {"dump_too_large", false, "The dump exceeds max_dump_bytes."},
    {"sha256_mismatch", false, "The dump's SHA-256 differs from dump.sha256 in the event."},
    {"size_mismatch", false, "The dump's size differs from dump.size in the event."},
    {"file_url_forbidden", false, "A file:// dump URL lies outside dump_file_roots."},
    {"invalid_dump_url", false, "The dump URL cannot be used (bad host, redirect limit, scheme)."},
    {"invalid_vector", false, "A vector in the event's vectors field cannot be decompressed."},
    {"scan_failed", false, "The engine refused the dump (e.g. an address out of range)."},
    {"internal", true, "An unexpected failure inside apivector (e.g. out of memory)."},
};

const event_error_info *eventErrorInfo(event_error code) {
    if (code < 0 || code >= EVENT_ERR_COUNT) {
        code = EVENT_ERR_INTERNAL;
    }
    return &eventErrors[code];
}

const char *eventErrorName(event_error code) {
    return eventErrorInfo(code)->name;
}

event_error eventErrorFromName(const char *name) {
    if (!name) {
        return EVENT_ERR_NONE;
    }
    for (int i = 0; i < EVENT_ERR_COUNT; i++) {
        if (strcmp(eventErrors[i].name, name) == 0) {
            return (event_error)i;
        }
    }
    return EVENT_ERR_NONE;
}

bool eventErrorCodeIsTransient(const char *name) {
    event_error code = eventErrorFromName(name);
    return code != EVENT_ERR_NONE && eventErrors[code].transient;
}
