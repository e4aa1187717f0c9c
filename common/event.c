/*
 * event.c - parse apivector.dump-ready.v1 events; the error-code table.
 *
 * The parser is a hand-written mirror of schemas/apivector.dump-ready.v1.json:
 * jansson turns the bytes into a tree, then each object is checked key by key
 * against the contract and copied into an owned event_dump_ready. Keeping it by
 * hand (instead of a generic schema engine) keeps the messages specific, and
 * tests/integration/test_event_schema.sh proves that both accept the same
 * documents, so the two cannot drift apart unnoticed.
 *
 * Agreement with Python's jsonschema needs care in three places:
 * - Numbers: JSON Schema counts 5.0 as an integer, so integral reals are
 *   accepted where an integer is expected. An integer beyond jansson's 64-bit
 *   range is not a syntax error either: the text is parsed again with integers
 *   as doubles, and only fields that need an exact value too large for a
 *   double are then refused.
 * - Strings: U+0000 is accepted by the JSON parser (JSON_ALLOW_NUL) and then
 *   refused by the contract, as the schema's "text" pattern does.
 * - Lengths are counted in code points, as JSON Schema does.
 * The error-code table is in event_error.c.
 * Known differences (both exotic): numbers beyond the double range (1e400)
 * and lone UTF-16 surrogate escapes are invalid_json here, while Python reads
 * them; they only matter inside submission.tags/metadata, which are open.
 */
#include "event.h"
#include "jsonutil.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ small checks */

bool eventIsVector(const char *s) {
    static const char extra[] = "@}]^+-*/?,._";
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  strchr(extra, c) != NULL;
        if (!ok || n >= 1024) {
            return false;
        }
    }
    return n > 0;
}

/* Reads 1..9 decimal digits ending at `stop`; advances *p past the stop. */
static bool eventReadCount(const char **p, char stop, int32_t *out) {
    int32_t v = 0;
    int digits = 0;
    const char *s = *p;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 9) {
            return false;
        }
        v = v * 10 + (*s++ - '0');
    }
    if (digits == 0 || *s != stop) {
        return false;
    }
    *p = s + 1;
    *out = v;
    return true;
}

bool eventSplitTag(const char *tag, int32_t *in, int32_t *num, const char **vector) {
    const char *p = tag;
    int32_t a, b;
    if (!tag || !eventReadCount(&p, ':', &a) || !eventReadCount(&p, ':', &b) || !eventIsVector(p)) {
        return false;
    }
    *in = a;
    *num = b;
    *vector = p;
    return true;
}

/* Number of code points in valid UTF-8 (jansson has validated it). */
static size_t eventUtf8Chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return n;
}

/* Copies a user-supplied key into buf for a message: at most ~60 bytes, cut
 * on a character boundary, control characters shown as '?'. */
static const char *eventShowKey(const char *key, char *buf, size_t buflen) {
    size_t i = 0, limit = buflen - 4 < 60 ? buflen - 4 : 60;
    for (; key[i] && i < limit; i++) {
        unsigned char c = (unsigned char)key[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    bool cut = key[i] != '\0';
    while (cut && i > 0 && ((unsigned char)key[i] & 0xC0) == 0x80) {
        i--; /* end before a character's first byte, not inside it */
    }
    buf[i] = '\0';
    if (cut) {
        strcat(buf, "...");
    }
    return buf;
}

/* ---------------------------------------------------------- the validator */

/* Parse state: the destination error buffer and whether integers were read
 * as doubles (after a 64-bit overflow somewhere in the text). */
typedef struct event_parse {
    char *err;
    size_t errlen;
    bool ints_as_reals;
    av_status nomem; /* AV_ERR_NOMEM once an allocation failed */
} event_parse;

#define EVENT_MAX_EXACT_DOUBLE 9007199254740992.0 /* 2^53: from here on doubles skip integers */

static bool eventFail(event_parse *ps, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "<path>: <message>" and returns false, so checks read `return eventFail(...)`. */
static bool eventFail(event_parse *ps, const char *path, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    avErrorf(ps->err, ps->errlen, AV_ERR_PARSE, "%s: %s", path, what);
    return false;
}

static bool eventOom(event_parse *ps) {
    ps->nomem = AV_ERR_NOMEM;
    avErrorf(ps->err, ps->errlen, AV_ERR_NOMEM, "out of memory while parsing the event");
    return false;
}

/* Fails unless every key of obj is in allowed (NULL-terminated). */
static bool eventCheckKeys(event_parse *ps, const json_t *obj, const char *path,
                           const char *const *allowed) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0) {
            a++;
        }
        if (!*a) {
            char full[160], shown[64];
            snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "",
                     eventShowKey(key, shown, sizeof(shown)));
            return eventFail(ps, full, "unknown key (the contract is closed)");
        }
    }
    return true;
}

static bool eventExpectType(event_parse *ps, const json_t *v, json_type type, const char *path,
                            const char *expected) {
    if (json_typeof(v) == type) {
        return true;
    }
    return eventFail(ps, path, "expected %s, got %s", expected, jsonTypeName(v));
}

/* A string without U+0000 of minc..maxc code points (maxc 0 = unbounded),
 * copied into *dst when dst is not NULL. */
static bool eventGetText(event_parse *ps, const json_t *v, const char *path, size_t minc,
                         size_t maxc, char **dst) {
    if (!eventExpectType(ps, v, JSON_STRING, path, "a string")) {
        return false;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (memchr(s, '\0', len)) {
        return eventFail(ps, path, "contains U+0000");
    }
    size_t chars = eventUtf8Chars(s, len);
    if (chars < minc) {
        return eventFail(ps, path, "must not be empty");
    }
    if (maxc && chars > maxc) {
        return eventFail(ps, path, "longer than %zu characters", maxc);
    }
    if (dst && !(*dst = strdup(s))) {
        return eventOom(ps);
    }
    return true;
}

/* A non-negative integer <= 2^63-1: a JSON integer or an integral real. */
static bool eventGetCount(event_parse *ps, const json_t *v, const char *path, uint64_t *out) {
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) {
            return eventFail(ps, path, "must be >= 0");
        }
        *out = (uint64_t)i;
        return true;
    }
    if (!json_is_real(v)) {
        return eventFail(ps, path, "expected an integer, got %s", jsonTypeName(v));
    }
    double d = json_real_value(v);
    if (d != floor(d)) {
        return eventFail(ps, path, "expected an integer, got a fraction");
    }
    if (d < 0) {
        return eventFail(ps, path, "must be >= 0");
    }
    if (d >= 9223372036854775808.0) {
        return eventFail(ps, path, "must be <= 9223372036854775807");
    }
    if (ps->ints_as_reals && d >= EVENT_MAX_EXACT_DOUBLE) {
        return eventFail(ps, path,
                         "cannot be read exactly because another number in the event exceeds "
                         "64 bits");
    }
    *out = (uint64_t)d;
    return true;
}

static int eventHexValue(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool eventGetBaseAddress(event_parse *ps, const json_t *v, const char *path, uint64_t *out) {
    if (!json_is_string(v)) {
        if (!json_is_number(v)) {
            return eventFail(ps, path, "expected an integer or a \"0x...\" string, got %s",
                             jsonTypeName(v));
        }
        return eventGetCount(ps, v, path, out);
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    uint64_t a = 0;
    bool ok = len >= 3 && len <= 18 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    for (size_t i = 2; ok && i < len; i++) {
        int h = eventHexValue(s[i]);
        ok = h >= 0;
        a = (a << 4) | (uint64_t)(h & 0xf);
    }
    if (!ok) {
        return eventFail(ps, path, "expected \"0x\" followed by 1 to 16 hex digits");
    }
    *out = a;
    return true;
}

static bool eventGetSha256(event_parse *ps, const json_t *v, const char *path, char **dst) {
    if (!eventExpectType(ps, v, JSON_STRING, path, "a string")) {
        return false;
    }
    const char *s = json_string_value(v);
    bool ok = json_string_length(v) == 64;
    for (size_t i = 0; ok && i < 64; i++) {
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    }
    if (!ok) {
        return eventFail(ps, path, "expected 64 lower-case hex digits");
    }
    if (!(*dst = strdup(s))) {
        return eventOom(ps);
    }
    return true;
}

/* ------------------------------------------------------- the dump's name */

/* Last path segment of a URL: after scheme://authority, without query and
 * fragment, with %XX decoded (a %00 is kept as written). */
static char *eventUrlName(const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *path = p + strcspn(p, "/?#"); /* end of the authority */
    if (*path != '/') {
        return strdup("");
    }
    size_t end = strcspn(path, "?#");
    const char *seg = path;
    for (size_t i = 0; i < end; i++) {
        if (path[i] == '/') {
            seg = path + i + 1;
        }
    }
    size_t n = (size_t)(path + end - seg);
    char *out = malloc(n + 1);
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (seg[i] == '%' && i + 2 < n && (hi = eventHexValue(seg[i + 1])) >= 0 &&
            (lo = eventHexValue(seg[i + 2])) >= 0 && (hi | lo) != 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = seg[i];
        }
    }
    out[o] = '\0';
    return out;
}

const char *eventDumpName(const event_dump_ready *ev) {
    if (!ev || !ev->has_dump) {
        return NULL;
    }
    return ev->dump.name ? ev->dump.name : ev->dump.url_name;
}

const char *eventResolveVmName(const event_dump_ready *ev, const char *default_db) {
    if (ev->vm_name) {
        return ev->vm_name;
    }
    if (ev->tags_vm_name) {
        return ev->tags_vm_name;
    }
    if (ev->metadata_vm_name) {
        return ev->metadata_vm_name;
    }
    if (default_db && *default_db && ev->file_type &&
        strncmp(ev->file_type, "executable/windows", 18) == 0) {
        return default_db;
    }
    return NULL;
}

/* ------------------------------------------------------------- sections */

static bool eventParseDump(event_parse *ps, const json_t *obj, event_dump *d) {
    static const char *const keys[] = {"url", "sha256", "size", "name", "base_address", NULL};
    if (!eventExpectType(ps, obj, JSON_OBJECT, "dump", "an object") ||
        !eventCheckKeys(ps, obj, "dump", keys)) {
        return false;
    }
    const json_t *url = json_object_get(obj, "url"), *v;
    if (!url) {
        return eventFail(ps, "dump.url", "missing (required)");
    }
    if (!eventGetText(ps, url, "dump.url", 0, 8192, &d->url)) {
        return false;
    }
    if (strncmp(d->url, "http://", 7) != 0 && strncmp(d->url, "https://", 8) != 0 &&
        strncmp(d->url, "file://", 7) != 0) {
        return eventFail(ps, "dump.url", "must start with http://, https:// or file://");
    }
    if (!(d->url_name = eventUrlName(d->url))) {
        return eventOom(ps);
    }
    if ((v = json_object_get(obj, "sha256")) && !eventGetSha256(ps, v, "dump.sha256", &d->sha256)) {
        return false;
    }
    if ((v = json_object_get(obj, "size"))) {
        if (!eventGetCount(ps, v, "dump.size", &d->size)) {
            return false;
        }
        d->has_size = true;
    }
    if ((v = json_object_get(obj, "name")) &&
        !eventGetText(ps, v, "dump.name", 0, 4096, &d->name)) {
        return false;
    }
    if ((v = json_object_get(obj, "base_address"))) {
        if (!eventGetBaseAddress(ps, v, "dump.base_address", &d->base_address)) {
            return false;
        }
        d->has_base_address = true;
    }
    return true;
}

/* tags or metadata: open objects; only vm_name is read. */
static bool eventParseOpen(event_parse *ps, const json_t *obj, const char *path, char **vm) {
    char sub[64];
    snprintf(sub, sizeof(sub), "%s.vm_name", path);
    if (!eventExpectType(ps, obj, JSON_OBJECT, path, "an object")) {
        return false;
    }
    const json_t *v = json_object_get(obj, "vm_name");
    return !v || eventGetText(ps, v, sub, 1, 256, vm);
}

static bool eventParseSubmission(event_parse *ps, const json_t *obj, event_dump_ready *ev) {
    static const char *const keys[] = {"sid", "tags", "metadata", NULL};
    if (!eventExpectType(ps, obj, JSON_OBJECT, "submission", "an object") ||
        !eventCheckKeys(ps, obj, "submission", keys)) {
        return false;
    }
    const json_t *v;
    if ((v = json_object_get(obj, "sid")) &&
        !eventGetText(ps, v, "submission.sid", 0, 256, &ev->sid)) {
        return false;
    }
    if ((v = json_object_get(obj, "tags")) &&
        !eventParseOpen(ps, v, "submission.tags", &ev->tags_vm_name)) {
        return false;
    }
    if ((v = json_object_get(obj, "metadata")) &&
        !eventParseOpen(ps, v, "submission.metadata", &ev->metadata_vm_name)) {
        return false;
    }
    return true;
}

static bool eventParseVectors(event_parse *ps, const json_t *arr, event_dump_ready *ev) {
    if (!eventExpectType(ps, arr, JSON_ARRAY, "vectors", "an array")) {
        return false;
    }
    size_t n = json_array_size(arr);
    if (n > EVENT_MAX_VECTORS) {
        return eventFail(ps, "vectors", "more than 1024 items");
    }
    if (n && !(ev->vectors = calloc(n, sizeof(char *)))) {
        return eventOom(ps);
    }
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof(path), "vectors[%zu]", i);
        const json_t *v = json_array_get(arr, i);
        int32_t in, num;
        const char *vec;
        if (!eventExpectType(ps, v, JSON_STRING, path, "a string")) {
            return false;
        }
        if (strlen(json_string_value(v)) != json_string_length(v) ||
            !eventSplitTag(json_string_value(v), &in, &num, &vec)) {
            return eventFail(ps, path,
                             "expected in:num:vector (1-9 digits, 1-9 digits, 1-1024 vector "
                             "characters)");
        }
        if (!(ev->vectors[i] = strdup(json_string_value(v)))) {
            return eventOom(ps);
        }
        ev->nvectors = i + 1;
    }
    return true;
}

static bool eventParseRoot(event_parse *ps, const json_t *root, event_dump_ready *ev) {
    static const char *const keys[] = {"schema",     "event_id",  "dump",    "vm_name",
                                       "submission", "file_type", "vectors", NULL};
    if (!eventExpectType(ps, root, JSON_OBJECT, "(root)", "an object") ||
        !eventCheckKeys(ps, root, "", keys)) {
        return false;
    }
    const json_t *v = json_object_get(root, "schema");
    if (!v) {
        return eventFail(ps, "schema", "missing (required)");
    }
    if (!json_is_string(v) || strcmp(json_string_value(v), EVENT_DUMP_READY_SCHEMA) != 0 ||
        json_string_length(v) != strlen(EVENT_DUMP_READY_SCHEMA)) {
        return eventFail(ps, "schema", "must be \"%s\"", EVENT_DUMP_READY_SCHEMA);
    }
    if (!(v = json_object_get(root, "event_id"))) {
        return eventFail(ps, "event_id", "missing (required)");
    }
    if (!eventGetText(ps, v, "event_id", 1, EVENT_ID_MAX_CHARS, &ev->event_id)) {
        return false;
    }
    if ((v = json_object_get(root, "dump"))) {
        if (!eventParseDump(ps, v, &ev->dump)) {
            return false;
        }
        ev->has_dump = true;
    }
    if ((v = json_object_get(root, "vm_name")) &&
        !eventGetText(ps, v, "vm_name", 1, 256, &ev->vm_name)) {
        return false;
    }
    if ((v = json_object_get(root, "submission")) && !eventParseSubmission(ps, v, ev)) {
        return false;
    }
    if ((v = json_object_get(root, "file_type")) &&
        !eventGetText(ps, v, "file_type", 0, 256, &ev->file_type)) {
        return false;
    }
    if ((v = json_object_get(root, "vectors")) && !eventParseVectors(ps, v, ev)) {
        return false;
    }
    if (!ev->has_dump && ev->nvectors == 0) {
        return eventFail(ps, "dump", "missing (required unless vectors has at least one item)");
    }
    return true;
}

/* Loads the JSON text; numeric overflow gets a second pass with integers as
 * doubles (see the top comment). Returns NULL with *code and err set. */
static json_t *eventLoad(const char *json, size_t len, event_parse *ps, event_error *code) {
    json_error_t jerr, jerr2;
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *root = json_loadb(json, len, flags, &jerr);
    if (!root && json_error_code(&jerr) == json_error_numeric_overflow) {
        root = json_loadb(json, len, flags | JSON_DECODE_INT_AS_REAL, &jerr2);
        ps->ints_as_reals = root != NULL;
    }
    if (root) {
        return root;
    }
    if (json_error_code(&jerr) == json_error_out_of_memory) {
        *code = EVENT_ERR_INTERNAL;
        eventOom(ps);
        return NULL;
    }
    *code = json_error_code(&jerr) == json_error_null_byte_in_key ? EVENT_ERR_SCHEMA_VIOLATION
                                                                  : EVENT_ERR_INVALID_JSON;
    avErrorf(ps->err, ps->errlen, AV_ERR_PARSE, "line %d, column %d: %s", jerr.line, jerr.column,
             jerr.text);
    return NULL;
}

av_status eventParseDumpReady(const char *json, size_t len, event_dump_ready **out,
                              event_error *code, char *err, size_t errlen) {
    event_parse ps = {err, errlen, false, AV_OK};
    event_error dummy;
    code = code ? code : &dummy;
    *out = NULL;
    *code = EVENT_ERR_NONE;
    json_t *root = eventLoad(json ? json : "", json ? len : 0, &ps, code);
    if (!root) {
        return ps.nomem ? ps.nomem : AV_ERR_PARSE;
    }
    event_dump_ready *ev = calloc(1, sizeof(*ev));
    bool ok = ev && eventParseRoot(&ps, root, ev);
    json_decref(root);
    if (!ev) {
        *code = EVENT_ERR_INTERNAL;
        eventOom(&ps);
        return AV_ERR_NOMEM;
    }
    if (!ok) {
        eventFree(ev);
        *code = ps.nomem ? EVENT_ERR_INTERNAL : EVENT_ERR_SCHEMA_VIOLATION;
        return ps.nomem ? ps.nomem : AV_ERR_PARSE;
    }
    *out = ev;
    return AV_OK;
}

char *eventPeekId(const char *json, size_t len) {
    json_t *root =
        json ? json_loadb(json, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    const json_t *id = json_object_get(root, "event_id");
    char *out = NULL;
    if (json_is_string(id)) {
        const char *s = json_string_value(id);
        size_t chars = eventUtf8Chars(s, json_string_length(id));
        if (chars >= 1 && chars <= EVENT_ID_MAX_CHARS) {
            out = strdup(s);
        }
    }
    json_decref(root);
    return out;
}

void eventFree(event_dump_ready *ev) {
    if (!ev) {
        return;
    }
    free(ev->event_id);
    free(ev->dump.url);
    free(ev->dump.sha256);
    free(ev->dump.name);
    free(ev->dump.url_name);
    free(ev->vm_name);
    free(ev->sid);
    free(ev->tags_vm_name);
    free(ev->metadata_vm_name);
    free(ev->file_type);
    for (size_t i = 0; i < ev->nvectors; i++) {
        free(ev->vectors[i]);
    }
    free(ev->vectors);
    free(ev);
}
