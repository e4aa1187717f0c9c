/*
 * test_conformance.c - the reference corpus through the library.
 *
 * Every case in $CONFORMANCE_DIR/cases (found by listing the folder, so new
 * cases are picked up) is scouted with scanRun() and turned into the case
 * document with scanJsonDocument(); every field is compared with the case's
 * "expected": integers and strings exactly, floats within 1e-9 relative.
 * Then every entry of vectors.json: API lists to vectors and back,
 * compression, confidence, weighted Jaccard and collection queries.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "apidb.h"
#include "collection.h"
#include "fileio.h"
#include "match.h"
#include "scan.h"
#include "scan_json.h"
#include "vector.h"
#include "winapi.h"

static char conf_dir[4096];
static winapi_table *winapi;

static char *confPath(const char *rel) {
    static char buf[8192];
    snprintf(buf, sizeof(buf), "%s/%s", conf_dir, rel);
    return buf;
}

/* Appends a mismatch description; returns the number of mismatches. */
static int jsonDiff(const json_t *exp, const json_t *got, const char *path) {
    if (json_is_number(exp) && json_is_number(got)) {
        if (json_is_integer(exp) && json_is_integer(got)) {
            if (json_integer_value(exp) == json_integer_value(got))
                return 0;
        } else {
            double a = json_number_value(exp), b = json_number_value(got);
            if (a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)))
                return 0;
        }
        print_error("%s: expected %.17g, got %.17g\n", path, json_number_value(exp),
                    json_number_value(got));
        return 1;
    }
    if (json_typeof(exp) != json_typeof(got)) {
        print_error("%s: type differs\n", path);
        return 1;
    }
    char sub[1024];
    int bad = 0;
    if (json_is_object(exp)) {
        if (json_object_size(exp) != json_object_size(got)) {
            print_error("%s: %zu keys expected, %zu got\n", path, json_object_size(exp),
                        json_object_size(got));
            bad++;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)exp, k, v) {
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            json_t *g = json_object_get(got, k);
            bad += g ? jsonDiff(v, g, sub) : (print_error("%s: missing\n", sub), 1);
        }
        return bad;
    }
    if (json_is_array(exp)) {
        if (json_array_size(exp) != json_array_size(got)) {
            print_error("%s: %zu items expected, %zu got\n", path, json_array_size(exp),
                        json_array_size(got));
            return 1;
        }
        for (size_t i = 0; i < json_array_size(exp) && bad < 10; i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            bad += jsonDiff(json_array_get(exp, i), json_array_get(got, i), sub);
        }
        return bad;
    }
    if (!json_equal((json_t *)exp, (json_t *)got)) {
        print_error("%s: value differs\n", path);
        return 1;
    }
    return 0;
}

static char *readAll(const char *path, size_t *len) {
    char err[AV_ERRLEN];
    char *buf;
    if (fileRead(path, 1u << 30, &buf, len, err, sizeof(err)) != AV_OK)
        fail_msg("%s", err);
    return buf;
}

static collection *loadCollection(const char *rel) {
    size_t len;
    char *text = readAll(confPath(rel), &len);
    collection *c;
    char err[AV_ERRLEN];
    assert_int_equal(collectionParse(text, len, rel, &c, err, sizeof(err)), AV_OK);
    free(text);
    return c;
}

static int runCase(const char *file) {
    json_error_t je;
    json_t *c = json_load_file(file, 0, &je);
    if (!c)
        fail_msg("%s: %s", file, je.text);
    json_t *opt = json_object_get(c, "options"), *dbs = json_object_get(c, "dbs");
    char err[AV_ERRLEN];
    apidb *db[16];
    size_t ndb = json_array_size(dbs);
    assert_true(ndb <= 16);
    for (size_t i = 0; i < ndb; i++) {
        size_t len;
        const char *rel = json_string_value(json_array_get(dbs, i));
        char *text = readAll(confPath(rel), &len);
        int ignore = json_is_true(json_object_get(opt, "ignore_aslr"));
        if (apidbParseJson(text, len, rel, ignore, &db[i], err, sizeof(err)) != AV_OK)
            fail_msg("%s", err);
        free(text);
    }
    size_t dlen;
    char *dump = readAll(confPath(json_string_value(json_object_get(c, "dump"))), &dlen);
    scan_options so;
    scanOptionsInit(&so);
    so.dump_name = json_string_value(json_object_get(c, "dump_name"));
    json_t *base = json_object_get(opt, "base_address");
    if (json_is_integer(base))
        so.has_base_address = 1, so.base_address = (uint64_t)json_integer_value(base);
    so.filter_distance = json_integer_value(json_object_get(opt, "filter_distance"));
    so.from_address = (uint64_t)json_integer_value(json_object_get(opt, "from_address"));
    so.to_address = (uint64_t)json_integer_value(json_object_get(opt, "to_address"));
    scan_result *r;
    assert_int_equal(scanRun(winapi, (const apidb *const *)db, ndb, (unsigned char *)dump, dlen,
                             &so, &r, err, sizeof(err)),
                     AV_OK);
    json_t *coll_name = json_object_get(opt, "collection");
    collection *coll =
        json_is_string(coll_name) ? loadCollection(json_string_value(coll_name)) : NULL;
    json_t *doc = scanJsonDocument(r, winapi, coll, json_string_value(coll_name));
    int bad = jsonDiff(json_object_get(c, "expected"), doc, file);
    json_decref(doc);
    collectionFree(coll);
    scanFree(r);
    free(dump);
    for (size_t i = 0; i < ndb; i++)
        apidbFree(db[i]);
    json_decref(c);
    return bad;
}

static int caseNameCompare(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_cases(void **state) {
    (void)state;
    DIR *d = opendir(confPath("cases"));
    assert_non_null(d);
    char *names[1024];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 1024;) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    assert_true(n >= 24);
    qsort(names, n, sizeof(char *), caseNameCompare);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char rel[600];
        snprintf(rel, sizeof(rel), "cases/%s", names[i]);
        int bad = runCase(confPath(rel));
        print_message("%s %s\n", bad ? "FAIL" : "ok  ", names[i]);
        failed += bad != 0;
        free(names[i]);
    }
    assert_int_equal(failed, 0);
}

static json_t *vectorsJson(void) {
    json_error_t je;
    json_t *v = json_load_file(confPath("vectors.json"), 0, &je);
    if (!v)
        fail_msg("vectors.json: %s", je.text);
    return v;
}

static json_t *statsJson(const apivector *v, const vector_stats *s) {
    char text[VECTOR_TEXT_MAX + 1];
    vectorCompress(v, text);
    return json_pack("{s:s,s:i,s:i,s:f}", "vector", text, "num_unique_apis",
                     (int)s->num_unique_apis, "in_api_vector", (int)s->in_api_vector, "percentage",
                     s->percentage);
}

static void collectApi(const char *dll, const char *fn, void *ctx) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s!%s", dll, fn);
    json_array_append_new((json_t *)ctx, json_string(buf));
}

static int jsonStringCompare(const void *a, const void *b) {
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The reference returns api_list_back sorted by Python string order, which
 * for ASCII is byte order. */
static json_t *sortedApiList(const apivector *v) {
    json_t *a = json_array(), *out = json_array();
    vectorForEachApi(winapi, v, collectApi, a);
    size_t n = json_array_size(a);
    json_t **items = malloc((n ? n : 1) * sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(a, i);
    qsort(items, n, sizeof(*items), jsonStringCompare);
    for (size_t i = 0; i < n; i++)
        json_array_append(out, items[i]);
    free(items);
    json_decref(a);
    return out;
}

static void test_from_api_lists(void **state) {
    (void)state;
    json_t *all = vectorsJson(), *item;
    size_t i;
    int bad = 0;
    json_array_foreach(json_object_get(all, "from_api_lists"), i, item) {
        json_t *apis = json_object_get(item, "apis");
        size_t n = json_array_size(apis);
        const char **list = malloc((n ? n : 1) * sizeof(char *));
        for (size_t k = 0; k < n; k++)
            list[k] = json_string_value(json_array_get(apis, k));
        apivector v;
        vector_stats s;
        char err[AV_ERRLEN];
        assert_int_equal(vectorFromApiList(winapi, list, n, &v, &s, err, sizeof(err)), AV_OK);
        json_t *got = statsJson(&v, &s), *back = sortedApiList(&v);
        bad += jsonDiff(json_object_get(item, "expected"), got, "from_api_lists.expected");
        bad += jsonDiff(json_object_get(item, "api_list_back"), back, "from_api_lists.back");
        json_decref(got);
        json_decref(back);
        free(list);
    }
    assert_true(i > 0);
    assert_int_equal(bad, 0);
    json_decref(all);
}

static void test_compress(void **state) {
    (void)state;
    json_t *all = vectorsJson(), *item, *idx;
    size_t i, k;
    json_array_foreach(json_object_get(all, "compress"), i, item) {
        apivector v = {0}, back;
        json_array_foreach(json_object_get(item, "set_indices"), k, idx)
            vectorSet(&v, (unsigned)json_integer_value(idx));
        char text[VECTOR_TEXT_MAX + 1], err[AV_ERRLEN];
        vectorCompress(&v, text);
        assert_string_equal(text, json_string_value(json_object_get(item, "compressed")));
        assert_int_equal(vectorDecompress(text, strlen(text), &back, err, sizeof(err)), AV_OK);
        assert_memory_equal(&v, &back, sizeof(v));
    }
    assert_true(i > 0);
    json_decref(all);
}

static apivector parseVector(json_t *s) {
    apivector v;
    char err[AV_ERRLEN];
    if (vectorDecompress(json_string_value(s), json_string_length(s), &v, err, sizeof(err)) !=
        AV_OK)
        fail_msg("%s", err);
    return v;
}

static void test_confidence_and_jaccard(void **state) {
    (void)state;
    json_t *all = vectorsJson(), *item;
    size_t i;
    json_array_foreach(json_object_get(all, "confidence"), i, item) {
        apivector v = parseVector(json_object_get(item, "vector"));
        double exp = json_number_value(json_object_get(item, "confidence"));
        assert_true(fabs(vectorConfidence(winapi, &v) - exp) <= 1e-9 * fabs(exp));
    }
    json_array_foreach(json_object_get(all, "jaccard"), i, item) {
        apivector a = parseVector(json_object_get(item, "a"));
        apivector b = parseVector(json_object_get(item, "b"));
        double exp = json_number_value(json_object_get(item, "score"));
        assert_true(fabs(matchScore(&a, &b) - exp) <= 1e-9 * fabs(exp));
    }
    json_decref(all);
}

static void test_collection_queries(void **state) {
    (void)state;
    json_t *all = vectorsJson(), *item;
    size_t i;
    int bad = 0;
    json_array_foreach(json_object_get(all, "collection_queries"), i, item) {
        const char *rel = json_string_value(json_object_get(item, "collection"));
        collection *c = loadCollection(rel);
        apivector v = parseVector(json_object_get(item, "vector"));
        json_t *got =
            scanJsonMatches(winapi, c, rel, &v, json_string_value(json_object_get(item, "vector")));
        bad += jsonDiff(item, got, "collection_queries");
        json_decref(got);
        collectionFree(c);
    }
    assert_true(i > 0);
    assert_int_equal(bad, 0);
    json_decref(all);
}

static int setup(void **state) {
    (void)state;
    const char *dir = getenv("CONFORMANCE_DIR");
    snprintf(conf_dir, sizeof(conf_dir), "%s", dir ? dir : "../shared/conformance");
    json_t *all = vectorsJson();
    size_t len;
    char *text = readAll(confPath(json_string_value(json_object_get(all, "winapi1024"))), &len);
    char err[AV_ERRLEN];
    if (winapiParse(text, len, "winapi1024v1.txt", &winapi, err, sizeof(err)) != AV_OK)
        fail_msg("%s", err);
    free(text);
    json_decref(all);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    winapiFree(winapi);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_from_api_lists),
        cmocka_unit_test(test_compress),
        cmocka_unit_test(test_confidence_and_jaccard),
        cmocka_unit_test(test_collection_queries),
    };
    return cmocka_run_group_tests_name("conformance", tests, setup, teardown);
}
