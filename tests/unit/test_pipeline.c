/*
 * test_pipeline.c - the consumer's pipeline (consumer/pipeline*.c,
 * consumer/codecs.c) on the paths that need no support server: event
 * failures that become dead letters, transient failures and the max_attempts
 * rule, vectors-only events, the gate, match events built from a collection
 * in memory, vm_name checks, URLs and the artifact codecs. Everything that
 * fetches a DB, a collection or an http:// dump is covered against real
 * servers by tests/integration/test_pipeline.sh.
 *
 * The pipeline's sources are compiled into this test (the #includes below):
 * tests/unit links test programs with apivector_common only, and consumer/
 * sources build into the apivector binary. That also gives the test the
 * internal functions of pipeline_internal.h.
 *
 * The fixture pipeline points support_url at 127.0.0.1:1, where nothing
 * listens (connection refused at once), reads WinApi1024 from
 * $APISCOUT_DATA_DIR and uses no Redis. Vectors come from conformance cases
 * in $CONFORMANCE_DIR, never written here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "pipeline.h"
#include "pipeline_internal.h"
#include "fileio.h"
#include "http.h"

#define EV_HEAD "{\"schema\":\"apivector.dump-ready.v1\",\"event_id\":"

typedef struct fixture {
    config *cfg;
    pipeline *p;
    pipeline_output out;
    char hi_tag[256], lo_tag[256]; /* case vectors above / at most min_confidence */
    double hi_confidence;
} fixture;

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("%s is not set (ctest sets it)", name);
    return v;
}

static char *slurp(const char *path, size_t *len) {
    char *text = NULL, err[AV_ERRLEN];
    if (fileRead(path, 64u << 20, &text, len, err, sizeof(err)) != AV_OK)
        fail_msg("%s", err);
    return text;
}

/* tag "in:num:vector" and confidence of a conformance case's primary vector */
static double case_tag(const char *name, char *tag, size_t len) {
    char path[1024];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/cases/%s.json", env("CONFORMANCE_DIR"), name);
    json_t *c = json_load_file(path, 0, &jerr);
    assert_non_null(c);
    json_t *e = json_object_get(c, "expected"), *p = json_object_get(e, "primary");
    snprintf(tag, len, "%d:%d:%s", (int)json_integer_value(json_object_get(p, "in_api_vector")),
             (int)json_integer_value(json_object_get(p, "num_unique_apis")),
             json_string_value(json_object_get(p, "vector")));
    double conf = json_number_value(json_object_get(e, "confidence"));
    json_decref(c);
    return conf;
}

/* The fixture's configuration, then extra (a JSON object's members) on top. */
static config *make_config(const char *extra) {
    char text[4096], err[AV_ERRLEN];
    snprintf(text, sizeof(text),
             "{\"support_url\": \"http://127.0.0.1:1\", \"redis_host\": null, \"http_retries\": 0,"
             " \"http_connect_timeout_ms\": 1000, \"max_attempts\": 3,"
             " \"winapi1024\": \"%s/winapi1024v1.txt\", \"dump_file_roots\": [\"%s/dumps\"]}",
             env("APISCOUT_DATA_DIR"), env("CONFORMANCE_DIR"));
    config *cfg = configNew();
    assert_non_null(cfg);
    if (configLoadString(cfg, text, strlen(text), "test", err, sizeof(err)) != AV_OK)
        fail_msg("%s", err);
    if (extra) {
        snprintf(text, sizeof(text), "{%s}", extra);
        if (configLoadString(cfg, text, strlen(text), "test", err, sizeof(err)) != AV_OK)
            fail_msg("%s", err);
    }
    return cfg;
}

static int setup(void **state) {
    char err[AV_ERRLEN];
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->cfg = make_config("\"dlq_max_value_bytes\": 100");
    if (pipelineNew(f->cfg, NULL, NULL, &f->p, err, sizeof(err)) != AV_OK)
        fail_msg("pipelineNew: %s", err);
    f->hi_confidence = case_tag("x86_64k_iat", f->hi_tag, sizeof(f->hi_tag));
    double lo = case_tag("no_filter", f->lo_tag, sizeof(f->lo_tag));
    assert_true(f->hi_confidence > 50 && lo > 0 && lo <= 50);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f)
        return 0;
    pipelineOutputClear(&f->out);
    pipelineFree(f->p);
    configFree(f->cfg);
    free(f);
    return 0;
}

/* Processes value (NULL = tombstone) as offset 7 of partition 2. */
static pipeline_output *process(fixture *f, const char *value, const char *key, int attempt) {
    pipeline_input in = {
        .topic = "dumps",
        .partition = 2,
        .offset = 7,
        .key = key,
        .key_len = key ? strlen(key) : 0,
        .value = value,
        .len = value ? strlen(value) : 0,
        .attempt = attempt,
    };
    pipelineOutputClear(&f->out);
    pipelineProcess(f->p, &in, &f->out);
    return &f->out;
}

static json_t *record_json(const pipeline_output *o, size_t i) {
    json_error_t jerr;
    assert_true(i < o->n);
    json_t *v = json_loadb(o->records[i].value, o->records[i].len, 0, &jerr);
    if (!v)
        fail_msg("record %zu is not JSON: %s", i, jerr.text);
    return v;
}

static const char *jstr(json_t *root, const char *a, const char *b) {
    json_t *v = json_object_get(root, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

/* Asserts exactly one dead letter with code; returns it (caller decrefs). */
static json_t *expect_dead_letter(const pipeline_output *o, const char *code, const char *key) {
    assert_int_equal(o->failed, 0);
    assert_int_equal(o->dead_lettered, 1);
    assert_int_equal(o->n, 1);
    assert_int_equal(o->records[0].dest, PIPELINE_DLQ);
    assert_string_equal(o->error_code, code);
    if (key) {
        assert_non_null(o->records[0].key);
        assert_string_equal(o->records[0].key, key);
    } else {
        assert_null(o->records[0].key);
    }
    json_t *d = record_json(o, 0);
    assert_string_equal(jstr(d, "schema", NULL), "apivector.dead-letter.v1");
    assert_string_equal(jstr(d, "error", "code"), code);
    assert_string_equal(jstr(d, "source", "topic"), "dumps");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "source"), "offset")),
                     7);
    return d;
}

static void test_vm_name_check(void **state) {
    static const char *good[] = {"win7_sp1_x86", "a", "Win-10.x64+office", "x.y_z-1"};
    static const char *bad[] = {"",        "..",   "../x",  "a/b", "a\\b", "a b", "a%2F",
                                ".hidden", "a..b", "a\x01", "a:b", "a?b",  "a#b"};
    char err[AV_ERRLEN], longname[PIPELINE_VM_NAME_MAX + 2];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(pipelineVmNameCheck(good[i], err, sizeof(err)), AV_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (pipelineVmNameCheck(bad[i], err, sizeof(err)) == AV_OK)
            fail_msg("accepted vm_name \"%s\"", bad[i]);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(pipelineVmNameCheck(longname, err, sizeof(err)), AV_ERR_PARSE);
    assert_non_null(strstr(err, "129 characters"));
    longname[PIPELINE_VM_NAME_MAX] = '\0';
    assert_int_equal(pipelineVmNameCheck(longname, err, sizeof(err)), AV_OK);
}

static void test_url_join(void **state) {
    static const struct {
        const char *base, *path, *name, *want;
    } cases[] = {
        {"http://h/", "/apiscout/", "x.json", "http://h/apiscout/x.json"},
        {"http://h:8/s//", "a/b", "c", "http://h:8/s/a/b/c"},
        {"http://h", "", "x.csv", "http://h/x.csv"},
        {"http://h", NULL, NULL, "http://h"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *url = pipelineUrlJoin(cases[i].base, cases[i].path, cases[i].name);
        assert_string_equal(url, cases[i].want);
        free(url);
    }
}

static void expect_new_fails(const char *extra, const char *needle) {
    char err[AV_ERRLEN] = "";
    pipeline *p = NULL;
    config *cfg = make_config(extra);
    assert_int_not_equal(pipelineNew(cfg, NULL, NULL, &p, err, sizeof(err)), AV_OK);
    assert_null(p);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
    configFree(cfg);
}

static void test_new_rejects(void **state) {
    expect_new_fails("\"support_url\": null", "support_url");
    expect_new_fails("\"default_db\": \"../etc\"", "default_db");
    expect_new_fails("\"apiscout_dbs\": [\"ok\", \"a b\"]", "apiscout_dbs[1]");
    expect_new_fails("\"winapi1024\": \"/nonexistent/winapi.txt\"", "winapi1024");
    expect_new_fails("\"winapi1024\": \"file://relative.txt\"", "winapi1024");
    /* a remote table with the support server down: the service cannot start */
    expect_new_fails("\"winapi1024\": \"apiscout/winapi1024v1.txt\"", "winapi1024");
    expect_new_fails("\"apivector_lists\": {\"a:b.csv\": {\"classification\": \"x\"}}",
                     "apivector_lists");
}

static void test_permanent_dead_letters(void **state) {
    fixture *f = *state;
    json_t *d = expect_dead_letter(process(f, NULL, "k1", 1), "invalid_json", "k1");
    assert_true(json_is_null(json_object_get(d, "event_id")));
    assert_string_equal(jstr(d, "source", "key"), "k1");
    assert_false(json_is_true(json_object_get(json_object_get(d, "error"), "transient")));
    json_decref(d);

    d = expect_dead_letter(process(f, "{\"nope", NULL, 1), "invalid_json", NULL);
    assert_true(json_is_null(json_object_get(json_object_get(d, "source"), "key")));
    json_decref(d);

    d = expect_dead_letter(process(f, EV_HEAD "\"sv\",\"dump\":{\"url\":\"ftp://x\"}}", NULL, 1),
                           "schema_violation", "sv");
    assert_string_equal(jstr(d, "event_id", NULL), "sv");
    assert_non_null(strstr(jstr(d, "error", "message"), "dump.url"));
    json_decref(d);

    d = expect_dead_letter(
        process(f, EV_HEAD "\"nv\",\"dump\":{\"url\":\"file:///x\"},\"file_type\":\"a/b\"}", NULL,
                1),
        "no_vm_name", "nv");
    json_decref(d);

    d = expect_dead_letter(process(f, EV_HEAD "\"iv\",\"vectors\":[\"1:1:A\"]}", NULL, 1),
                           "invalid_vector", "iv");
    assert_non_null(strstr(jstr(d, "error", "message"), "vectors[0]"));
    json_decref(d);

    d = expect_dead_letter(
        process(f, EV_HEAD "\"pv\",\"vm_name\":\"../x\",\"dump\":{\"url\":\"file:///x\"}}", "key",
                1),
        "unknown_vm_name", "key");
    json_decref(d);
}

static void test_dead_letter_value_truncated(void **state) {
    fixture *f = *state;
    char value[1024];
    int n = snprintf(value, sizeof(value), EV_HEAD "\"long\",\"vectors\":[\"1:1:A\"],\"x\":\"");
    memset(value + n, 'y', 600);
    strcpy(value + n + 600, "\"}");
    json_t *d = expect_dead_letter(process(f, value, NULL, 1), "schema_violation", "long");
    json_t *orig = json_object_get(d, "original");
    assert_true(json_is_true(json_object_get(orig, "truncated")));
    assert_int_equal(json_string_length(json_object_get(orig, "value")), 100);
    assert_int_equal(json_integer_value(json_object_get(orig, "size")), strlen(value));
    json_decref(d);
}

static void test_transient_then_dead_letter(void **state) {
    fixture *f = *state;
    char event[1024];
    snprintf(event, sizeof(event),
             EV_HEAD
             "\"t1\",\"vm_name\":\"somevm\",\"dump\":{\"url\":\"file://%s/dumps/toy.bin\"}}",
             env("CONFORMANCE_DIR"));
    for (int attempt = 1; attempt < 3; attempt++) {
        pipeline_output *o = process(f, event, NULL, attempt);
        assert_int_equal(o->failed, 1);
        assert_int_equal(o->n, 0);
        assert_int_equal(o->dead_lettered, 0);
        assert_string_equal(o->error_code, "artifact_unavailable");
        assert_non_null(strstr(o->error_message, "127.0.0.1:1"));
    }
    json_t *d = expect_dead_letter(process(f, event, NULL, 3), "artifact_unavailable", "t1");
    assert_true(json_is_true(json_object_get(json_object_get(d, "error"), "transient")));
    assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 3);
    assert_non_null(strstr(jstr(d, "error", "message"), "gave up after 3 attempts"));
    json_decref(d);
}

static void test_vectors_only(void **state) {
    fixture *f = *state;
    char event[1024];
    /* no collection is configured: a passing vector has nothing to match */
    snprintf(event, sizeof(event), EV_HEAD "\"v1\",\"vectors\":[\"%s\",\"%s\"]}", f->hi_tag,
             f->lo_tag);
    pipeline_output *o = process(f, event, NULL, 1);
    assert_int_equal(o->failed, 0);
    assert_int_equal(o->dead_lettered, 0);
    assert_int_equal(o->n, 0);
    /* a dump without vm_name is not pulled when vectors are given */
    snprintf(event, sizeof(event),
             EV_HEAD "\"v2\",\"vectors\":[\"%s\"],\"dump\":{\"url\":\"http://127.0.0.1:1/d\"}}",
             f->hi_tag);
    o = process(f, event, NULL, 1);
    assert_int_equal(o->failed, 0);
    assert_int_equal(o->n, 0);
    assert_int_equal(o->bytes_scanned, 0);
    assert_true(o->timings.total_ms >= 0);
}

static void test_gate(void **state) {
    fixture *f = *state;
    char reason[160];
    assert_false(pipelineGatePasses(f->p, 50.0, reason, sizeof(reason)));
    assert_string_equal(reason, "confidence 50.00 is not above min_confidence 50.00");
    assert_false(pipelineGatePasses(f->p, 50.5, reason, sizeof(reason)));
    assert_string_equal(reason, "no collection is configured");
    f->p->nsources = 1; /* only counted by the gate */
    assert_true(pipelineGatePasses(f->p, 50.5, reason, sizeof(reason)));
    f->p->nsources = 0;
}

/* A match event against a collection held in memory: the case's own vector
 * scores 1.0 first, a family name that is not UTF-8 is written lossily. */
static void test_match_event(void **state) {
    fixture *f = *state;
    char csv[2048], event[1024];
    const char *vec = strrchr(f->hi_tag, ':') + 1, *lovec = strrchr(f->lo_tag, ':') + 1;
    snprintf(csv, sizeof(csv), "other;s1;1;1;%s\nself;s2;1;1;%s\nbad\xff;s3;1;1;%s\n", lovec, vec,
             vec);
    collection *c = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(collectionParse(csv, strlen(csv), "inline", &c, err, sizeof(err)), AV_OK);
    assert_int_equal(collectionSize(c), 3);

    snprintf(event, sizeof(event), EV_HEAD "\"m1\",\"vectors\":[\"%s\"]}", f->hi_tag);
    pipeline_input in = {.topic = "dumps",
                         .partition = 1,
                         .offset = 9,
                         .value = event,
                         .len = strlen(event),
                         .attempt = 1};
    pipeline_output out = {0};
    pipeline_source src = {.name = "inline.csv", .classification = "TLP:RED"};
    pipeline_held held = {.src = &src, .c = c, .sha256 = "", .stale = 1};
    memset(held.sha256, 'a', 64);
    pipeline_job j = {.p = f->p,
                      .in = &in,
                      .out = &out,
                      .held = &held,
                      .nheld = 1,
                      .held_loaded = 1,
                      .winapi = f->p->winapi_local};
    event_error code = EVENT_ERR_NONE;
    assert_int_equal(eventParseDumpReady(event, strlen(event), &j.ev, &code, err, sizeof(err)),
                     AV_OK);
    apivector v;
    assert_int_equal(vectorDecompress(vec, strlen(vec), &v, err, sizeof(err)), AV_OK);
    double conf = vectorConfidence(j.winapi, &v);
    assert_true(conf > 50 && conf == f->hi_confidence);
    assert_int_equal(pipelineMatchVector(&j, &v, vec, conf, EVENT_VECTOR_FROM_EVENT),
                     EVENT_ERR_NONE);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.match_events, 1);
    assert_int_equal(j.held_stale, 1);
    json_t *m = record_json(&out, 0);
    assert_string_equal(jstr(m, "vector", "source"), "event");
    assert_string_equal(jstr(m, "collection", "classification"), "TLP:RED");
    json_t *fams = json_object_get(m, "families"), *top = json_object_get(m, "top");
    assert_int_equal(json_array_size(top), 3);
    assert_true(json_array_size(fams) >= 2);
    assert_string_equal(jstr(json_array_get(fams, 0), "family", NULL), "self");
    assert_true(json_real_value(json_object_get(json_array_get(fams, 0), "score")) == 1.0);
    assert_string_equal(jstr(json_array_get(fams, 1), "family", NULL), "bad\xef\xbf\xbd");
    assert_string_equal(jstr(json_array_get(top, 2), "family", NULL), "other");
    json_decref(m);
    pipelineOutputClear(&out);
    eventFree(j.ev);
    collectionFree(c);
}

static void test_dead_letter_api(void **state) {
    fixture *f = *state;
    pipeline_input in = {.topic = "dumps",
                         .partition = 0,
                         .offset = 3,
                         .key = "kk",
                         .key_len = 2,
                         .value = EV_HEAD "\"x1\"}",
                         .len = strlen(EV_HEAD "\"x1\"}"),
                         .attempt = 1};
    pipelineOutputClear(&f->out);
    pipelineDeadLetter(f->p, &in, "dump_unavailable", "broker said no", 7, &f->out);
    assert_int_equal(f->out.dead_lettered, 1);
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.records[0].key, "kk");
    json_t *d = record_json(&f->out, 0);
    assert_string_equal(jstr(d, "error", "code"), "dump_unavailable");
    assert_string_equal(jstr(d, "error", "message"), "broker said no");
    assert_true(json_is_true(json_object_get(json_object_get(d, "error"), "transient")));
    assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 7);
    assert_string_equal(jstr(d, "event_id", NULL), "x1");
    json_decref(d);
    pipelineOutputClear(&f->out);
    pipelineDeadLetter(f->p, &in, "no_such_code", NULL, 1, &f->out);
    assert_string_equal(f->out.error_code, "internal");
    pipelineOutputClear(&f->out);
    assert_int_equal(f->out.n, 0);
    assert_null(f->out.records);
    /* a caller bug (negative offset): nothing to publish, a retry */
    in.offset = -1;
    pipelineDeadLetter(f->p, &in, "dump_unavailable", "x", 1, &f->out);
    assert_int_equal(f->out.failed, 1);
    assert_int_equal(f->out.n, 0);
}

static void test_ready_and_stats(void **state) {
    fixture *f = *state;
    artifact_stats s;
    assert_true(pipelineReady(f->p));
    assert_false(pipelineReady(NULL));
    pipelineArtifactStats(f->p, &s);
    assert_true(s.origin_errors >= 1); /* from test_transient_then_dead_letter */
}

/* ------------------------------------------------------------------ codecs */

static void test_codec_db(void **state) {
    char path[1024], err[AV_ERRLEN];
    size_t len, plen = 0, nlen = 0;
    unsigned char *packed = NULL, *noaslr = NULL;
    snprintf(path, sizeof(path), "%s/dbs/aslr_syn.json", env("CONFORMANCE_DIR"));
    char *json = slurp(path, &len);
    const artifact_codec *a = codecDb(false), *b = codecDb(true);
    assert_string_equal(a->kind, "db1");
    assert_string_equal(b->kind, "db1-noaslr");
    assert_int_equal(
        a->encode((unsigned char *)json, len, &packed, &plen, a->ctx, err, sizeof(err)), AV_OK);
    assert_int_equal(
        b->encode((unsigned char *)json, len, &noaslr, &nlen, b->ctx, err, sizeof(err)), AV_OK);
    /* the DB has ASLR offsets: the two packed forms differ */
    assert_true(plen != nlen || memcmp(packed, noaslr, plen) != 0);
    void *obj = NULL;
    size_t footprint = 0;
    assert_int_equal(a->decode(packed, plen, &obj, &footprint, a->ctx, err, sizeof(err)), AV_OK);
    apidb *ref = NULL;
    assert_int_equal(apidbParseJson(json, len, path, 0, &ref, err, sizeof(err)), AV_OK);
    assert_string_equal(apidbOsName(obj), apidbOsName(ref));
    assert_int_equal(apidbCount(obj), apidbCount(ref));
    assert_int_equal(footprint, apidbFootprint(obj));
    a->destroy(obj);
    apidbFree(ref);
    unsigned char *out = NULL;
    assert_int_equal(a->encode((const unsigned char *)"{\"dlls\": 3}", 11, &out, &plen, a->ctx, err,
                               sizeof(err)),
                     AV_ERR_PARSE);
    assert_int_not_equal(
        a->decode((const unsigned char *)"AVDBPACK", 8, &obj, &footprint, a->ctx, err, sizeof(err)),
        AV_OK);
    free(packed);
    free(noaslr);
    free(json);
}

static void test_codec_collection(void **state) {
    char path[1024], err[AV_ERRLEN];
    size_t len, olen = 0;
    unsigned char *out = NULL;
    const artifact_codec *c = codecCollection();
    snprintf(path, sizeof(path), "%s/collections/syn200.csv", env("CONFORMANCE_DIR"));
    char *csv = slurp(path, &len);
    assert_int_equal(c->encode((unsigned char *)csv, len, &out, &olen, c->ctx, err, sizeof(err)),
                     AV_OK);
    assert_int_equal(olen, len);
    assert_memory_equal(out, csv, len);
    void *obj = NULL;
    size_t footprint;
    assert_int_equal(c->decode(out, olen, &obj, &footprint, c->ctx, err, sizeof(err)), AV_OK);
    assert_int_equal(collectionSize(obj), 200);
    c->destroy(obj);
    free(out);
    static const char *page = "<html><body>502 Bad Gateway</body></html>\n";
    assert_int_equal(
        c->encode((const unsigned char *)page, strlen(page), &out, &olen, c->ctx, err, sizeof(err)),
        AV_ERR_PARSE);
    assert_non_null(strstr(err, "not a collection"));
    assert_int_equal(c->encode((const unsigned char *)"", 0, &out, &olen, c->ctx, err, sizeof(err)),
                     AV_OK);
    assert_int_equal(olen, 0);
    free(out);
    assert_int_equal(
        c->encode((const unsigned char *)"# none yet\n", 11, &out, &olen, c->ctx, err, sizeof(err)),
        AV_OK);
    free(out);
    const artifact_codec *m = codecMalpedia();
    assert_string_equal(m->kind, "malpedia");
    assert_int_not_equal(
        m->encode((const unsigned char *)page, strlen(page), &out, &olen, m->ctx, err, sizeof(err)),
        AV_OK);
    assert_int_equal(m->encode((unsigned char *)csv, len, &out, &olen, m->ctx, err, sizeof(err)),
                     AV_OK);
    free(out);
    free(csv);
}

static void test_codec_winapi(void **state) {
    char path[1024], err[AV_ERRLEN];
    size_t len, olen = 0, footprint = 0;
    unsigned char *out = NULL;
    void *obj = NULL;
    const artifact_codec *w = codecWinapi();
    snprintf(path, sizeof(path), "%s/winapi1024v1.txt", env("APISCOUT_DATA_DIR"));
    char *text = slurp(path, &len);
    assert_int_equal(w->encode((unsigned char *)text, len, &out, &olen, w->ctx, err, sizeof(err)),
                     AV_OK);
    assert_int_equal(w->decode(out, olen, &obj, &footprint, w->ctx, err, sizeof(err)), AV_OK);
    assert_true(footprint > len);
    w->destroy(obj);
    free(out);
    assert_int_equal(
        w->encode((unsigned char *)text, len / 2, &out, &olen, w->ctx, err, sizeof(err)),
        AV_ERR_PARSE);
    free(text);
}

int main(void) {
    char err[AV_ERRLEN];
    if (httpGlobalInit(err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_name_check),
        cmocka_unit_test(test_url_join),
        cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_codec_db),
        cmocka_unit_test(test_codec_collection),
        cmocka_unit_test(test_codec_winapi),
        cmocka_unit_test_setup_teardown(test_permanent_dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_value_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vectors_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_api, setup, teardown),
    };
    const struct CMUnitTest stateful[] = {
        cmocka_unit_test(test_transient_then_dead_letter),
        cmocka_unit_test(test_ready_and_stats),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed + cmocka_run_group_tests(stateful, setup, teardown);
}
