/*
 * event_tool.c - a driver of common/event*.c for tests/integration/test_event_schema.sh.
 *
 *   event-tool codes                  one line per error code: "<name> <transient|permanent>"
 *   event-tool parse [--default-db D] FILE...
 *                                     parses each file as a dump-ready event and prints one
 *                                     JSON line: {"file", "ok", "code", "message", "event_id",
 *                                     "vm_name" (resolved), "dump_name", "nvectors"}
 *   event-tool samples                prints sample result, match and dead-letter events, one
 *                                     per line, built through event_out.c
 *   event-tool dlq FILE MAX [KEYFILE] prints a dead letter whose original value is FILE's bytes
 *                                     cut to MAX bytes (and whose key is KEYFILE's bytes)
 *
 * The samples cover the optional parts of each contract (no API list, unknown
 * import-table flag, the largest address, match_skipped, an event vector,
 * empty top lists, null key and event_id) so the script can check each against
 * the JSON schema. Exit status: 0, or 1 with a message on stderr.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "event_out.h"

#define SHA_A "40c4ab3ac4b3ba2ad7323cdd4d50090b7bc99a157fb14752d44955b935b21342"
#define SHA_B "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
#define VEC "AgA3CgA12QAAIA5CA3gAAEARCAAIA4BA5gAAQBA5QAgQAEEABA4BA3BA4BAgMAhEIA9EAAgAgA5EBA3EA3g"
#define T0 1714564800123LL /* 2024-05-01T12:00:00.123Z */

static char *toolReadFile(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
            }
            buf = grown;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Prints *json (built by the call that returned st) and frees it. */
static int toolEmit(av_status st, char **json, const char *err) {
    if (st != AV_OK) {
        fprintf(stderr, "event-tool: %s\n", err);
        return 1;
    }
    printf("%s\n", *json);
    free(*json);
    *json = NULL;
    return 0;
}

static int toolParse(int argc, char **argv) {
    const char *default_db = NULL;
    int i = 0;
    if (argc >= 2 && strcmp(argv[0], "--default-db") == 0) {
        default_db = argv[1];
        i = 2;
    }
    for (; i < argc; i++) {
        size_t len;
        char *text = toolReadFile(argv[i], &len), err[AV_ERRLEN] = "";
        if (!text) {
            fprintf(stderr, "event-tool: cannot read %s\n", argv[i]);
            return 1;
        }
        event_dump_ready *ev = NULL;
        event_error code = EVENT_ERR_NONE;
        av_status st = eventParseDumpReady(text, len, &ev, &code, err, sizeof(err));
        json_t *line = json_pack(
            "{s:s, s:b, s:s?, s:s?, s:s?, s:s?, s:s?, s:I}", "file", argv[i], "ok", st == AV_OK,
            "code", st == AV_OK ? NULL : eventErrorName(code), "message", st == AV_OK ? NULL : err,
            "event_id", ev ? ev->event_id : NULL, "vm_name",
            ev ? eventResolveVmName(ev, default_db) : NULL, "dump_name",
            ev ? eventDumpName(ev) : NULL, "nvectors", (json_int_t)(ev ? ev->nvectors : 0));
        char *out = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (!out) {
            fprintf(stderr, "event-tool: cannot print the result for %s\n", argv[i]);
            return 1;
        }
        printf("%s\n", out);
        free(out);
        json_decref(line);
        eventFree(ev);
        free(text);
    }
    return 0;
}

static int toolSampleResults(void) {
    static const event_out_api apis[] = {
        {4096, 0x75a31c20, "kernel32.dll_0x75a10000", "Sleep", 32, 1, 3},
        {8200, 0xffffffffffffffffULL, "ntdll.dll_0x7ffb12300000", "None17", 64, -1, 1},
        {8208, 0, "user32.dll_0x0", "MessageBoxW", 64, 0, 2},
    };
    char err[AV_ERRLEN], *json = NULL;
    event_result r = {
        .event_id = "7d8e3f0a-2c41",
        .source = {"apivector.dumps", 3, 1207},
        .dump_url = "http://127.0.0.1:8080/d/PID_150.exe.dmp_0x00400000",
        .dump_sha256 = SHA_A,
        .dump_size = 65536,
        .dump_name = "PID_150.exe.dmp_0x00400000",
        .base_address = 0x400000,
        .vm_name = "win7_sp1_x86",
        .db = "Windows 7 SP1 x86 (synthetic)",
        .vector = VEC,
        .in_api_vector = 61,
        .num_unique_apis = 118,
        .percentage = 51.69491525423729,
        .confidence = 92.32870714969654,
        .include_apis = true,
        .apis = apis,
        .napis = 3,
        .timings_ms = {12.5, 3.25, 0.75, 16.5},
        .engine_version = APIVECTOR_VERSION,
        .winapi1024_sha256 = SHA_B,
        .produced_at_ms = T0,
    };
    int rc = toolEmit(eventOutResult(&r, &json, NULL, err, sizeof(err)), &json, err);
    /* no API list, stale artifacts, empty vector, match skipped, "now" */
    r.include_apis = false;
    r.stale = true;
    r.vector = "A171";
    r.in_api_vector = r.num_unique_apis = 0;
    r.percentage = r.confidence = 0;
    r.match_skipped = "confidence 0.00 is not above min_confidence 50.00";
    r.dump_name = "";
    r.base_address = 0;
    r.produced_at_ms = 0;
    rc |= toolEmit(eventOutResult(&r, &json, NULL, err, sizeof(err)), &json, err);
    /* API list on but empty */
    r.include_apis = true;
    r.napis = 0;
    r.apis = NULL;
    rc |= toolEmit(eventOutResult(&r, &json, NULL, err, sizeof(err)), &json, err);
    return rc;
}

static int toolSampleMatches(void) {
    static const event_out_score top[] = {
        {"win.citadel", "2012-11-08-1.3.5.1", 1.0},
        {"win.citadel", "2012-06-15", 0.61},
        {"win.urlzone", "2016-04-06", 0.61},
        {"win.\"quoted\"\\", "s\xc3\xa9", 0.0},
    };
    static const event_out_score fam[] = {{"win.citadel", NULL, 1.0}, {"win.urlzone", NULL, 0.61}};
    char err[AV_ERRLEN], *json = NULL;
    event_match m = {
        .event_id = "7d8e3f0a-2c41",
        .source = {"apivector.dumps", 0, 0},
        .vector_source = EVENT_VECTOR_FROM_DUMP,
        .vector = VEC,
        .confidence = 92.3,
        .collection_name = "malpedia.csv",
        .collection_sha256 = SHA_A,
        .collection_families = 2,
        .collection_vectors = 4,
        .classification = "TLP:AMBER",
        .top = top,
        .ntop = 4,
        .families = fam,
        .nfamilies = 2,
        .produced_at_ms = T0,
    };
    int rc = toolEmit(eventOutMatch(&m, &json, NULL, err, sizeof(err)), &json, err);
    m.vector_source = EVENT_VECTOR_FROM_EVENT;
    m.vector = "A16gA57BA35EA59E";
    m.ntop = m.nfamilies = 0;
    m.classification = "";
    rc |= toolEmit(eventOutMatch(&m, &json, NULL, err, sizeof(err)), &json, err);
    return rc;
}

static int toolSampleDeadLetters(void) {
    static const char value[] = "{\"schema\": \"apivector.dump-ready.v1\", \"event_id\": \"e1\"}";
    char err[AV_ERRLEN], *json = NULL;
    event_dead_letter d = {
        .code = EVENT_ERR_SHA256_MISMATCH,
        .message = "dump sha256 is 3f1c but the event says 40c4",
        .source = {"apivector.dumps", 5, 42},
        .key = "e1",
        .keylen = 2,
        .event_id = "e1",
        .attempts = 1,
        .value = value,
        .value_len = sizeof(value) - 1,
        .max_value_bytes = 65536,
        .produced_at_ms = T0,
    };
    int rc = toolEmit(eventOutDeadLetter(&d, &json, NULL, err, sizeof(err)), &json, err);
    /* transient after retries, no key, no event_id, no message, value cut */
    d.code = EVENT_ERR_DUMP_UNAVAILABLE;
    d.message = NULL;
    d.key = NULL;
    d.event_id = NULL;
    d.attempts = 5;
    d.max_value_bytes = 10;
    rc |= toolEmit(eventOutDeadLetter(&d, &json, NULL, err, sizeof(err)), &json, err);
    /* not UTF-8 at all, empty message, key with a bad byte */
    d.code = EVENT_ERR_INVALID_JSON;
    d.message = "";
    d.key = "k\xff";
    d.keylen = 2;
    d.value = "\xff\xfe{";
    d.value_len = 3;
    rc |= toolEmit(eventOutDeadLetter(&d, &json, NULL, err, sizeof(err)), &json, err);
    /* empty value, internal error */
    d.code = EVENT_ERR_INTERNAL;
    d.value = NULL;
    d.value_len = 0;
    rc |= toolEmit(eventOutDeadLetter(&d, &json, NULL, err, sizeof(err)), &json, err);
    return rc;
}

static int toolDeadLetter(const char *path, const char *max, const char *keypath) {
    size_t len, keylen = 0;
    char *value = toolReadFile(path, &len), *key = keypath ? toolReadFile(keypath, &keylen) : NULL;
    char err[AV_ERRLEN], *json = NULL, *end;
    unsigned long long limit = strtoull(max, &end, 10);
    if (!value || *end || (keypath && !key)) {
        fprintf(stderr, "event-tool: usage: event-tool dlq FILE MAX [KEYFILE]\n");
        return 1;
    }
    event_dead_letter d = {
        .code = EVENT_ERR_SCHEMA_VIOLATION,
        .message = "sample",
        .source = {"apivector.dumps", 0, 7},
        .key = key,
        .keylen = keylen,
        .attempts = 1,
        .value = value,
        .value_len = len,
        .max_value_bytes = (size_t)limit,
    };
    int rc = toolEmit(eventOutDeadLetter(&d, &json, NULL, err, sizeof(err)), &json, err);
    free(value);
    free(key);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "codes") == 0) {
        for (int i = 0; i < EVENT_ERR_COUNT; i++) {
            const event_error_info *e = eventErrorInfo((event_error)i);
            printf("%s %s\n", e->name, e->transient ? "transient" : "permanent");
        }
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "parse") == 0) {
        return toolParse(argc - 2, argv + 2);
    }
    if (argc == 2 && strcmp(argv[1], "samples") == 0) {
        return toolSampleResults() | toolSampleMatches() | toolSampleDeadLetters();
    }
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "dlq") == 0) {
        return toolDeadLetter(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    }
    fprintf(stderr, "usage: event-tool codes | parse [--default-db D] FILE... | samples | "
                    "dlq FILE MAX [KEYFILE]\n");
    return 2;
}
