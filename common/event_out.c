/*
 * event_out.c - build result, match and dead-letter events with jansson.
 *
 * Every builder runs in two steps: check the input struct against the
 * contract (the checks mirror schemas/apivector.*.v1.json and stop at the
 * first bad field with its name), then build the JSON object in the schema's
 * key order and serialise it compactly. Building the tree is cheap next to a
 * scan, and jansson takes care of escaping.
 *
 * Dead letters carry arbitrary bytes from the topic. Text is kept as text so an
 * operator can read it; anything that is not valid UTF-8 (or holds a NUL byte)
 * is base64-encoded as a whole rather than patched, so the original bytes can
 * always be recovered for a replay.
 */
#include "event_out.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* ------------------------------------------------------------ helpers */

char *eventOutTimestamp(int64_t ms, char *buf, size_t buflen) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, buflen, "%s.%03dZ", date, (int)(ms % 1000));
    return buf;
}

/* Length of the valid UTF-8 sequence at s[0..len), or 0 when it is invalid
 * or incomplete. */
static size_t eventOutUtf8Seq(const unsigned char *s, size_t len) {
    unsigned c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        return 0;
    }
    return n;
}

bool eventOutIsUtf8(const void *s, size_t len) {
    const unsigned char *p = s;
    for (size_t i = 0; i < len;) {
        size_t n = eventOutUtf8Seq(p + i, len - i);
        if (!n) {
            return false;
        }
        i += n;
    }
    return true;
}

char *eventOutUtf8Lossy(const void *s, size_t len) {
    const unsigned char *p = s;
    char *out = malloc(len * 3 + 1); /* each bad byte becomes 3 bytes */
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = eventOutUtf8Seq(p + i, len - i);
        if (n == 0 || p[i] == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------- checks */

static av_status eventOutBad(char *err, size_t errlen, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "<field>: <problem>" and returns AV_ERR_USAGE. */
static av_status eventOutBad(char *err, size_t errlen, const char *field, const char *fmt, ...) {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return avErrorf(err, errlen, AV_ERR_USAGE, "%s: %s", field, what);
}

static bool eventOutIsSha256(const char *s) {
    size_t n = 0;
    for (; s && s[n]; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) {
            return false;
        }
    }
    return n == 64;
}

static bool eventOutInRange(double v, double lo, double hi) {
    return isfinite(v) && v >= lo && v <= hi;
}

/* A required string: present, valid UTF-8 and, when nonempty is set, not "". */
static av_status eventOutCheckText(const char *s, bool nonempty, const char *field, char *err,
                                   size_t errlen) {
    if (!s) {
        return eventOutBad(err, errlen, field, "missing");
    }
    if (nonempty && !*s) {
        return eventOutBad(err, errlen, field, "must not be empty");
    }
    if (!eventOutIsUtf8(s, strlen(s))) {
        return eventOutBad(err, errlen, field, "not valid UTF-8");
    }
    return AV_OK;
}

static av_status eventOutCheckSource(const event_source *s, char *err, size_t errlen) {
    av_status st = eventOutCheckText(s->topic, true, "source.topic", err, errlen);
    if (st != AV_OK) {
        return st;
    }
    if (s->partition < 0) {
        return eventOutBad(err, errlen, "source.partition", "must be >= 0, got %d", s->partition);
    }
    if (s->offset < 0) {
        return eventOutBad(err, errlen, "source.offset", "must be >= 0, got %lld",
                           (long long)s->offset);
    }
    return AV_OK;
}

static av_status eventOutCheckEventId(const char *id, char *err, size_t errlen) {
    av_status st = eventOutCheckText(id, true, "event_id", err, errlen);
    size_t chars = 0;
    for (const char *p = id; st == AV_OK && *p; p++) {
        chars += ((unsigned char)*p & 0xC0) != 0x80;
    }
    if (st == AV_OK && chars > EVENT_ID_MAX_CHARS) {
        return eventOutBad(err, errlen, "event_id", "longer than %d characters",
                           EVENT_ID_MAX_CHARS);
    }
    return st;
}

static av_status eventOutCheckScores(const event_out_score *s, size_t n, bool with_sample,
                                     const char *field, char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        char name[48];
        snprintf(name, sizeof(name), "%s[%zu]", field, i);
        av_status st = eventOutCheckText(s[i].family, false, name, err, errlen);
        if (st == AV_OK && with_sample) {
            st = eventOutCheckText(s[i].sample, false, name, err, errlen);
        }
        if (st != AV_OK) {
            return st;
        }
        if (!eventOutInRange(s[i].score, 0, 1)) {
            return eventOutBad(err, errlen, name, "score %g is not within 0..1", s[i].score);
        }
        if (i > 0 && s[i].score > s[i - 1].score) {
            return eventOutBad(err, errlen, name, "scores must be sorted descending");
        }
    }
    return AV_OK;
}

/* --------------------------------------------------------- json pieces */

static json_t *eventOutHex(uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
    return json_string(buf);
}

static json_t *eventOutTime(int64_t ms) {
    char buf[40];
    return json_string(eventOutTimestamp(ms > 0 ? ms : clockWallMs(), buf, sizeof(buf)));
}

static json_t *eventOutSource(const event_source *s) {
    return json_pack("{s:s, s:i, s:I}", "topic", s->topic, "partition", (int)s->partition, "offset",
                     (json_int_t)s->offset);
}

/* Serialises obj (consumed) into *json; AV_ERR_NOMEM when any piece of the
 * tree failed to allocate (jansson then leaves it NULL). */
static av_status eventOutFinish(json_t *obj, bool built, char **json, size_t *len, char *err,
                                size_t errlen) {
    char *text = built && obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(obj);
    if (!text) {
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory while building an event");
    }
    *json = text;
    if (len) {
        *len = strlen(text);
    }
    return AV_OK;
}

/* json_object_set_new() that remembers any failure in *ok. jansson releases
 * v itself when obj or v is NULL (a failed allocation upstream). */
static void eventOutSet(json_t *obj, const char *key, json_t *v, bool *ok) {
    if (json_object_set_new(obj, key, v) != 0) {
        *ok = false;
    }
}

/* ------------------------------------------------------------- result */

static av_status eventOutCheckApis(const event_result *r, char *err, size_t errlen) {
    for (size_t i = 0; i < r->napis; i++) {
        const event_out_api *a = &r->apis[i];
        char name[40];
        snprintf(name, sizeof(name), "apis[%zu]", i);
        av_status st = eventOutCheckText(a->dll, true, name, err, errlen);
        if (st == AV_OK) {
            st = eventOutCheckText(a->api, true, name, err, errlen);
        }
        if (st != AV_OK) {
            return st;
        }
        if (a->bitness != 32 && a->bitness != 64) {
            return eventOutBad(err, errlen, name, "bitness must be 32 or 64, got %d", a->bitness);
        }
        if (a->refs < 1 || a->in_import_table < -1 || a->in_import_table > 1 ||
            a->offset > INT64_MAX) {
            return eventOutBad(err, errlen, name,
                               "refs must be >= 1, in_import_table -1..1, "
                               "offset <= 2^63-1");
        }
    }
    return AV_OK;
}

static av_status eventOutCheckResult(const event_result *r, char *err, size_t errlen) {
    av_status st;
    if ((st = eventOutCheckEventId(r->event_id, err, errlen)) ||
        (st = eventOutCheckSource(&r->source, err, errlen)) ||
        (st = eventOutCheckText(r->dump_url, true, "dump.url", err, errlen)) ||
        (st = eventOutCheckText(r->dump_name, false, "dump.name", err, errlen)) ||
        (st = eventOutCheckText(r->vm_name, true, "vm_name", err, errlen)) ||
        (st = eventOutCheckText(r->db, false, "db", err, errlen)) ||
        (st = eventOutCheckText(r->engine_version, true, "engine.version", err, errlen))) {
        return st;
    }
    if (r->apis_omitted &&
        (st = eventOutCheckText(r->apis_omitted, true, "apis_omitted.reason", err, errlen)))
        return st;
    if (r->match_skipped &&
        (st = eventOutCheckText(r->match_skipped, true, "match_skipped.reason", err, errlen))) {
        return st;
    }
    if (!eventOutIsSha256(r->dump_sha256)) {
        return eventOutBad(err, errlen, "dump.sha256", "expected 64 lower-case hex digits");
    }
    if (!eventOutIsSha256(r->winapi1024_sha256)) {
        return eventOutBad(err, errlen, "engine.winapi1024_sha256",
                           "expected 64 lower-case hex digits");
    }
    if (r->dump_size > INT64_MAX) {
        return eventOutBad(err, errlen, "dump.size", "must be <= 2^63-1");
    }
    if (!r->vector || !eventIsVector(r->vector)) {
        return eventOutBad(err, errlen, "vector", "not a compressed ApiVector");
    }
    /* the tag's pattern allows 9 digits per count */
    if (r->in_api_vector < 0 || r->in_api_vector > 1024 || r->num_unique_apis < 0 ||
        r->num_unique_apis > 999999999) {
        return eventOutBad(err, errlen, "in_api_vector",
                           "in_api_vector must be 0..1024 and num_unique_apis 0..999999999");
    }
    if (!eventOutInRange(r->percentage, 0, 100)) {
        return eventOutBad(err, errlen, "percentage", "%g is not within 0..100", r->percentage);
    }
    if (!eventOutInRange(r->confidence, 0, 100)) {
        return eventOutBad(err, errlen, "confidence", "%g is not within 0..100", r->confidence);
    }
    const event_timings *t = &r->timings_ms;
    if (!eventOutInRange(t->fetch, 0, INFINITY) || !eventOutInRange(t->crawl, 0, INFINITY) ||
        !eventOutInRange(t->match, 0, INFINITY) || !eventOutInRange(t->total, 0, INFINITY)) {
        return eventOutBad(err, errlen, "timings_ms", "every timing must be finite and >= 0");
    }
    if (r->include_apis && r->napis && !r->apis) {
        return eventOutBad(err, errlen, "apis", "napis is %zu but apis is NULL", r->napis);
    }
    return r->include_apis ? eventOutCheckApis(r, err, errlen) : AV_OK;
}

static json_t *eventOutApis(const event_result *r) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->napis; i++) {
        const event_out_api *a = &r->apis[i];
        json_t *iit = a->in_import_table < 0 ? json_null() : json_boolean(a->in_import_table);
        json_t *row =
            json_pack("{s:I, s:o, s:s, s:s, s:i, s:o, s:I}", "offset", (json_int_t)a->offset,
                      "address", eventOutHex(a->address), "dll", a->dll, "api", a->api, "bitness",
                      a->bitness, "in_import_table", iit, "refs", (json_int_t)a->refs);
        if (!row || json_array_append_new(arr, row) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

av_status eventOutResult(const event_result *r, char **json, size_t *len, char *err,
                         size_t errlen) {
    av_status st = eventOutCheckResult(r, err, errlen);
    if (st != AV_OK) {
        return st;
    }
    char *tag = NULL;
    if (asprintf(&tag, "%d:%d:%s", (int)r->in_api_vector, (int)r->num_unique_apis, r->vector) < 0) {
        return avErrorf(err, errlen, AV_ERR_NOMEM, "out of memory while building an event");
    }
    bool ok = true;
    json_t *o = json_object();
    eventOutSet(o, "schema", json_string(EVENT_RESULT_SCHEMA), &ok);
    eventOutSet(o, "event_id", json_string(r->event_id), &ok);
    eventOutSet(o, "source", eventOutSource(&r->source), &ok);
    eventOutSet(o, "dump",
                json_pack("{s:s, s:s, s:I, s:s, s:o}", "url", r->dump_url, "sha256", r->dump_sha256,
                          "size", (json_int_t)r->dump_size, "name", r->dump_name, "base_address",
                          eventOutHex(r->base_address)),
                &ok);
    eventOutSet(o, "vm_name", json_string(r->vm_name), &ok);
    eventOutSet(o, "db", json_string(r->db), &ok);
    eventOutSet(o, "vector", json_string(r->vector), &ok);
    eventOutSet(o, "in_api_vector", json_integer(r->in_api_vector), &ok);
    eventOutSet(o, "num_unique_apis", json_integer(r->num_unique_apis), &ok);
    eventOutSet(o, "percentage", json_real(r->percentage), &ok);
    eventOutSet(o, "confidence", json_real(r->confidence), &ok);
    eventOutSet(o, "tag", json_string(tag), &ok);
    if (r->include_apis) {
        eventOutSet(o, "apis", eventOutApis(r), &ok);
    } else if (r->apis_omitted) {
        eventOutSet(
            o, "apis_omitted",
            json_pack("{s:s, s:I}", "reason", r->apis_omitted, "count", (json_int_t)r->napis), &ok);
    }
    eventOutSet(o, "stale", json_boolean(r->stale), &ok);
    if (r->match_skipped) {
        eventOutSet(o, "match_skipped", json_pack("{s:s}", "reason", r->match_skipped), &ok);
    }
    const event_timings *t = &r->timings_ms;
    eventOutSet(o, "timings_ms",
                json_pack("{s:f, s:f, s:f, s:f}", "fetch", t->fetch, "crawl", t->crawl, "match",
                          t->match, "total", t->total),
                &ok);
    eventOutSet(o, "engine",
                json_pack("{s:s, s:s}", "version", r->engine_version, "winapi1024_sha256",
                          r->winapi1024_sha256),
                &ok);
    eventOutSet(o, "produced_at", eventOutTime(r->produced_at_ms), &ok);
    free(tag);
    return eventOutFinish(o, ok, json, len, err, errlen);
}

/* -------------------------------------------------------------- match */

static av_status eventOutCheckMatch(const event_match *m, char *err, size_t errlen) {
    av_status st;
    if ((st = eventOutCheckEventId(m->event_id, err, errlen)) ||
        (st = eventOutCheckSource(&m->source, err, errlen)) ||
        (st = eventOutCheckText(m->collection_name, true, "collection.name", err, errlen)) ||
        (st = eventOutCheckText(m->classification, false, "collection.classification", err,
                                errlen))) {
        return st;
    }
    if (m->vector_source != EVENT_VECTOR_FROM_DUMP && m->vector_source != EVENT_VECTOR_FROM_EVENT) {
        return eventOutBad(err, errlen, "vector.source", "unknown source %d",
                           (int)m->vector_source);
    }
    if (!m->vector || !eventIsVector(m->vector)) {
        return eventOutBad(err, errlen, "vector.value", "not a compressed ApiVector");
    }
    if (!eventOutInRange(m->confidence, 0, 100)) {
        return eventOutBad(err, errlen, "vector.confidence", "%g is not within 0..100",
                           m->confidence);
    }
    if (!eventOutIsSha256(m->collection_sha256)) {
        return eventOutBad(err, errlen, "collection.sha256", "expected 64 lower-case hex digits");
    }
    if (m->collection_families < 0 || m->collection_vectors < 0) {
        return eventOutBad(err, errlen, "collection", "families and vectors must be >= 0");
    }
    if (m->ntop > EVENT_OUT_MAX_TOP) {
        return eventOutBad(err, errlen, "top", "%zu entries, at most %d allowed", m->ntop,
                           EVENT_OUT_MAX_TOP);
    }
    if ((m->ntop && !m->top) || (m->nfamilies && !m->families)) {
        return eventOutBad(err, errlen, "top", "a count is set but its array is NULL");
    }
    if ((st = eventOutCheckScores(m->top, m->ntop, true, "top", err, errlen))) {
        return st;
    }
    return eventOutCheckScores(m->families, m->nfamilies, false, "families", err, errlen);
}

static json_t *eventOutScores(const event_out_score *s, size_t n, bool with_sample) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *row = with_sample
                          ? json_pack("{s:s, s:s, s:f}", "family", s[i].family, "sample",
                                      s[i].sample, "score", s[i].score)
                          : json_pack("{s:s, s:f}", "family", s[i].family, "score", s[i].score);
        if (!row || json_array_append_new(arr, row) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

av_status eventOutMatch(const event_match *m, char **json, size_t *len, char *err, size_t errlen) {
    av_status st = eventOutCheckMatch(m, err, errlen);
    if (st != AV_OK) {
        return st;
    }
    bool ok = true;
    json_t *o = json_object();
    eventOutSet(o, "schema", json_string(EVENT_MATCH_SCHEMA), &ok);
    eventOutSet(o, "event_id", json_string(m->event_id), &ok);
    eventOutSet(o, "source", eventOutSource(&m->source), &ok);
    eventOutSet(o, "vector",
                json_pack("{s:s, s:s, s:f}", "source",
                          m->vector_source == EVENT_VECTOR_FROM_DUMP ? "dump" : "event", "value",
                          m->vector, "confidence", m->confidence),
                &ok);
    eventOutSet(o, "collection",
                json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", m->collection_name, "sha256",
                          m->collection_sha256, "families", (json_int_t)m->collection_families,
                          "vectors", (json_int_t)m->collection_vectors, "classification",
                          m->classification),
                &ok);
    eventOutSet(o, "top", eventOutScores(m->top, m->ntop, true), &ok);
    eventOutSet(o, "families", eventOutScores(m->families, m->nfamilies, false), &ok);
    eventOutSet(o, "produced_at", eventOutTime(m->produced_at_ms), &ok);
    return eventOutFinish(o, ok, json, len, err, errlen);
}

/* -------------------------------------------------------- dead letter */

/* The "original" object: kept bytes as text or base64 (see the header). */
static json_t *eventOutOriginal(const event_dead_letter *d) {
    const unsigned char *v = d->value ? d->value : (const unsigned char *)"";
    size_t keep = d->value_len < d->max_value_bytes ? d->value_len : d->max_value_bytes;
    size_t text_keep = keep;
    while (text_keep > 0 && text_keep < d->value_len && (v[text_keep] & 0xC0) == 0x80) {
        text_keep--; /* cut before a character, not inside one */
    }
    json_t *value;
    const char *encoding = "utf-8";
    /* NUL is valid UTF-8, but many JSON sinks (e.g. PostgreSQL jsonb) refuse \u0000 */
    if (eventOutIsUtf8(v, text_keep) && !memchr(v, 0, text_keep)) {
        keep = text_keep;
        value = json_stringn((const char *)v, keep);
    } else {
        encoding = "base64";
        size_t outlen = 4 * ((keep + 2) / 3) + 1;
        char *b64 = malloc(outlen);
        if (!b64) {
            return NULL;
        }
        EVP_EncodeBlock((unsigned char *)b64, v, (int)keep);
        value = json_string(b64);
        free(b64);
    }
    return json_pack("{s:o, s:s, s:b, s:I}", "value", value, "encoding", encoding, "truncated",
                     keep < d->value_len, "size", (json_int_t)d->value_len);
}

av_status eventOutDeadLetter(const event_dead_letter *d, char **json, size_t *len, char *err,
                             size_t errlen) {
    av_status st = eventOutCheckSource(&d->source, err, errlen);
    if (st != AV_OK) {
        return st;
    }
    if (d->code < 0 || d->code >= EVENT_ERR_COUNT) {
        return eventOutBad(err, errlen, "error.code", "unknown code %d", (int)d->code);
    }
    if (d->attempts < 1) {
        return eventOutBad(err, errlen, "attempts", "must be >= 1, got %d", d->attempts);
    }
    if (d->event_id && (st = eventOutCheckEventId(d->event_id, err, errlen))) {
        return st;
    }
    if (d->value_len && !d->value) {
        return eventOutBad(err, errlen, "original.value", "value_len is set but value is NULL");
    }
    if (d->max_value_bytes > INT32_MAX) {
        return eventOutBad(err, errlen, "max_value_bytes", "must be <= 2^31-1");
    }
    const event_error_info *info = eventErrorInfo(d->code);
    const char *msg = d->message && *d->message ? d->message : info->description;
    char *message = eventOutUtf8Lossy(msg, strlen(msg));
    size_t keylen = d->keylen < EVENT_OUT_MAX_KEY_BYTES ? d->keylen : EVENT_OUT_MAX_KEY_BYTES;
    char *key = d->key ? eventOutUtf8Lossy(d->key, keylen) : NULL;
    bool ok = message && (key || !d->key);

    json_t *o = json_object();
    eventOutSet(o, "schema", json_string(EVENT_DEAD_LETTER_SCHEMA), &ok);
    eventOutSet(o, "error",
                json_pack("{s:s, s:s?, s:b}", "code", info->name, "message", message, "transient",
                          info->transient),
                &ok);
    json_t *src = eventOutSource(&d->source);
    eventOutSet(src, "key", key ? json_string(key) : json_null(), &ok);
    eventOutSet(o, "source", src, &ok);
    eventOutSet(o, "event_id", d->event_id ? json_string(d->event_id) : json_null(), &ok);
    eventOutSet(o, "attempts", json_integer(d->attempts), &ok);
    eventOutSet(o, "original", eventOutOriginal(d), &ok);
    eventOutSet(o, "produced_at", eventOutTime(d->produced_at_ms), &ok);
    free(message);
    free(key);
    return eventOutFinish(o, ok, json, len, err, errlen);
}
