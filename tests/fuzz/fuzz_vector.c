/*
 * fuzz_vector.c - libFuzzer target for vectorDecompress(), vectorCompress()
 * and vectorFromApiList().
 *
 * Each input is used three ways:
 *  - as compressed text: when it decompresses, compress(decompress(x)) must
 *    decompress to the same bits, fit VECTOR_TEXT_MAX, and be canonical
 *    (compressing again gives the same text);
 *  - its first 128 bytes, when there are that many, as a raw 1024-bit
 *    vector, which must survive compress/decompress;
 *  - its lines as a "dll!Api" list against a WinApi1024 table generated at
 *    start-up, whose first entries are names a fuzzer finds from the seeds.
 * Confidence and the per-API walk are checked on every vector produced.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "vector.h"

#define INPUT_MAX (64u << 10)
#define LIST_MAX 512

static winapi_table *table;

static const char *const known_apis[] = {
    "kernel32.dll!CreateFile",   "kernel32.dll!VirtualAlloc", "kernel32.dll!GetProcAddress",
    "ntdll.dll!NtOpenProcess",   "user32.dll!MessageBox",     "msvcrt.dll!malloc",
    "advapi32.dll!RegOpenKeyEx", "ws2_32.dll!connect",
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    table = fuzzWinapiTable(known_apis, sizeof(known_apis) / sizeof(known_apis[0]));
    return 0;
}

static void countApi(const char *dll, const char *fn, void *ctx) {
    FUZZ_CHECK(dll && fn, "API without names");
    ++*(unsigned *)ctx;
}

static void checkVector(const apivector *v) {
    char text[VECTOR_TEXT_MAX + 1], again[VECTOR_TEXT_MAX + 1];
    vectorCompress(v, text);
    size_t n = strlen(text);
    FUZZ_CHECK(n > 0 && n <= VECTOR_TEXT_MAX, "compressed length %zu", n);
    apivector back;
    char err[AV_ERRLEN];
    FUZZ_CHECK(vectorDecompress(text, n, &back, err, sizeof(err)) == AV_OK,
               "own output \"%s\" rejected: %s", text, err);
    FUZZ_CHECK(memcmp(&back, v, sizeof(back)) == 0, "\"%s\" does not round-trip", text);
    vectorCompress(&back, again);
    FUZZ_CHECK(strcmp(text, again) == 0, "compression not canonical: %s vs %s", text, again);
    unsigned walked = 0;
    vectorForEachApi(table, v, countApi, &walked);
    FUZZ_CHECK(walked == vectorPopcount(v), "walked %u of %u bits", walked, vectorPopcount(v));
    double conf = vectorConfidence(table, v);
    FUZZ_CHECK(conf >= 0.0 && conf <= 100.0 && !isnan(conf), "confidence %g", conf);
    FUZZ_CHECK(vectorPopcount(v) != 0 || conf == 0.0, "confidence %g for an empty vector", conf);
}

static void fuzzText(const uint8_t *data, size_t size) {
    apivector v;
    char err[AV_ERRLEN] = "";
    if (vectorDecompress((const char *)data, size, &v, err, sizeof(err)) != AV_OK) {
        FUZZ_CHECK(strncmp(err, "vector: ", 8) == 0, "error without context: %s", err);
        return;
    }
    checkVector(&v);
}

static void fuzzRaw(const uint8_t *data, size_t size) {
    if (size < 128)
        return;
    apivector v;
    memcpy(v.w, data, 128);
    checkVector(&v);
}

/* Splits the input at newlines into NUL-terminated items. */
static void fuzzApiList(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1);
    const char **items = malloc(LIST_MAX * sizeof(*items));
    if (!copy || !items)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t n = 0;
    int all_bang = 1;
    for (char *p = copy; n < LIST_MAX;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        items[n++] = p;
        all_bang &= strchr(p, '!') != NULL;
        if (!nl)
            break;
        p = nl + 1;
    }
    apivector v;
    vector_stats stats;
    char err[AV_ERRLEN] = "";
    av_status st = vectorFromApiList(table, items, n, &v, &stats, err, sizeof(err));
    FUZZ_CHECK((st == AV_OK) == all_bang, "status %d with all_bang %d: %s", st, all_bang, err);
    if (st == AV_OK) {
        FUZZ_CHECK(stats.num_unique_apis >= 1 && stats.num_unique_apis <= n, "%u unique of %zu",
                   stats.num_unique_apis, n);
        FUZZ_CHECK(stats.in_api_vector == vectorPopcount(&v) &&
                       stats.in_api_vector <= stats.num_unique_apis,
                   "%u in vector, %u unique", stats.in_api_vector, stats.num_unique_apis);
        FUZZ_CHECK(stats.percentage >= 0.0 && stats.percentage <= 100.0, "percentage %g",
                   stats.percentage);
        checkVector(&v);
    } else {
        FUZZ_CHECK(st == AV_ERR_PARSE, "status %d", st);
    }
    free(items);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > INPUT_MAX)
        return 0;
    fuzzText(data, size);
    fuzzRaw(data, size);
    fuzzApiList(data, size);
    return 0;
}
