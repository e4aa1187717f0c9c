/*
 * fuzz_dbcheck.c - what must hold for any DB the loaders accept.
 *
 * Besides reading every name (so a bad offset is an ASan report), the checks
 * compare the crawl index with a naive model: an entry is findable exactly
 * when the crawl could report it (bitness 32 or 64, non-empty dll and api,
 * a 32-bit entry below 2^32), and crawlRun() over a dump made of the DB's
 * own addresses must produce exactly the rows a byte-by-byte scan with a
 * binary search over the sorted entries produces.
 */
#include "fuzz_dbcheck.h"

#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "fuzz_util.h"

#define CHECK_ENTRIES_MAX 4096 /* per-entry checks are linear; keep exec/s high */
#define DUMP_ENTRIES 48

static int dbIndexable(const apidb *db, const apidb_entry *e) {
    unsigned b = apidbEntryBitness(db, e);
    if (b != 32 && b != 64)
        return 0;
    if (!*apidbEntryDll(db, e) || !*apidbEntryApi(db, e))
        return 0;
    return b == 64 || e->address <= 0xFFFFFFFFULL;
}

/* Entry with exactly this address, by binary search, or NULL. */
static const apidb_entry *dbSearch(const apidb *db, uint64_t address) {
    const apidb_entry *e = apidbEntries(db);
    size_t lo = 0, hi = apidbCount(db);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].address < address)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < apidbCount(db) && e[lo].address == address ? &e[lo] : NULL;
}

static const apidb_entry *naiveFind(const apidb *db, uint64_t address, unsigned bitness) {
    const apidb_entry *e = dbSearch(db, address);
    return e && dbIndexable(db, e) && apidbEntryBitness(db, e) == bitness ? e : NULL;
}

/* The reference's normalization of an entry, compared with its pair id. */
static void checkNorm(const apidb *db, const apidb_entry *e) {
    const char *field = apidbEntryDll(db, e), *api = apidbEntryApi(db, e);
    const char *last = strrchr(field, '_');
    const char *dll = field;
    size_t dll_len = last ? (size_t)(last - field) : 0;
    if (dll_len >= 5 && memcmp(field, "msvcr", 5) == 0)
        dll = "msvcrt.dll", dll_len = 10;
    const char *at = strchr(api, '@');
    size_t api_len = at ? (size_t)(at - api) : strlen(api);
    if (api_len > 0 && (api[api_len - 1] == 'A' || api[api_len - 1] == 'W'))
        api_len--;
    const char *nd, *na;
    size_t ndl, nal;
    apidbNormPair(db, e->norm, &nd, &ndl, &na, &nal);
    FUZZ_CHECK(ndl == dll_len && memcmp(nd, dll, dll_len) == 0 && nal == api_len &&
                   memcmp(na, api, api_len) == 0,
               "entry %s!%s: normalized pair %.*s!%.*s, expected %.*s!%.*s", field, api, (int)ndl,
               nd, (int)nal, na, (int)dll_len, dll, (int)api_len, api);
}

/* Pair ids must be distinct pairs (equal pairs share an id via checkNorm). */
static void checkNormsDistinct(const apidb *db) {
    size_t n = apidbNormCount(db);
    if (n > 256)
        n = 256;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const char *d1, *a1, *d2, *a2;
            size_t dl1, al1, dl2, al2;
            apidbNormPair(db, (uint32_t)i, &d1, &dl1, &a1, &al1);
            apidbNormPair(db, (uint32_t)j, &d2, &dl2, &a2, &al2);
            FUZZ_CHECK(
                !(dl1 == dl2 && al1 == al2 && memcmp(d1, d2, dl1) == 0 && memcmp(a1, a2, al1) == 0),
                "pair ids %zu and %zu are the same pair", i, j);
        }
}

static void checkFilters(const apidb *db, const apidb_entry *e) {
    if (!dbIndexable(db, e))
        return;
    if (apidbEntryBitness(db, e) == 32) {
        uint32_t k = (uint32_t)(e->address >> 16);
        FUZZ_CHECK((apidbFilter32(db)[k >> 6] >> (k & 63)) & 1, "filter32 misses 0x%llx",
                   (unsigned long long)e->address);
    } else {
        uint32_t k = apidbFold64(e->address);
        FUZZ_CHECK((apidbFilter64(db)[k >> 6] >> (k & 63)) & 1, "filter64 misses 0x%llx",
                   (unsigned long long)e->address);
    }
}

static void checkFind(const apidb *db, const apidb_entry *e) {
    unsigned b = apidbEntryBitness(db, e);
    const apidb_entry *got = apidbFind(db, e->address, b);
    FUZZ_CHECK(got == (dbIndexable(db, e) ? e : NULL), "apidbFind(0x%llx, %u)",
               (unsigned long long)e->address, b);
    FUZZ_CHECK(apidbFind(db, e->address, b == 32 ? 64 : 32) == NULL, "found with other bitness");
    static const int64_t deltas[] = {1, -1, 0x10000, 0x100000000LL};
    for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++)
        for (unsigned w = 32; w <= 64; w += 32) {
            uint64_t a = e->address + (uint64_t)deltas[i];
            FUZZ_CHECK(apidbFind(db, a, w) == naiveFind(db, a, w), "apidbFind(0x%llx, %u) differs",
                       (unsigned long long)a, w);
        }
}

/* A dump holding some of the DB's addresses back to back (unaligned). */
static uint8_t *dumpFromDb(const apidb *db, size_t *len) {
    size_t n = apidbCount(db), step = n / DUMP_ENTRIES + 1;
    uint8_t *d = malloc(DUMP_ENTRIES * 12 + 16);
    if (!d)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i += step) {
        const apidb_entry *e = &apidbEntries(db)[i];
        unsigned w = apidbEntryBitness(db, e) == 64 ? 8 : 4;
        for (unsigned b = 0; b < w; b++)
            d[o++] = (uint8_t)(e->address >> (8 * b));
        d[o++] = (uint8_t)i; /* varies the misaligned values */
        d[o++] = 0xCC;
    }
    *len = o;
    return d;
}

static void checkCrawl(const apidb *db) {
    size_t len;
    uint8_t *d = dumpFromDb(db, &len);
    crawl_rows rows;
    char err[AV_ERRLEN];
    FUZZ_CHECK(crawlRun(&db, 1, d, len, &rows, err, sizeof(err)) == AV_OK, "crawl: %s", err);
    size_t k = 0;
    for (unsigned w = 32; w <= 64; w += 32) {
        if (w == 64 && !apidbHas64(db))
            break;
        for (size_t o = 0; o + w / 8 <= len; o++) {
            uint64_t v = fuzzLe(d + o, w / 8);
            const apidb_entry *e = naiveFind(db, v, w);
            if (!e)
                continue;
            FUZZ_CHECK(k < rows.n, "crawl lacks the %u-bit hit at %zu", w, o);
            const crawl_row *r = &rows.rows[k++];
            FUZZ_CHECK(r->offset == o && r->address == v && r->entry == e && r->bitness == w &&
                           r->in_import_table == -1 && r->ref_count == 1,
                       "crawl row %zu differs from the naive %u-bit hit at %zu", k - 1, w, o);
        }
    }
    FUZZ_CHECK(k == rows.n, "crawl has %zu rows, naive scan %zu", rows.n, k);
    crawlRowsFree(&rows);
    free(d);
}

void fuzzDbCheck(const apidb *db, int from_json) {
    FUZZ_CHECK(apidbOsName(db) != NULL, "no os_name");
    (void)strlen(apidbOsName(db));
    size_t n = apidbCount(db);
    const apidb_entry *e = apidbEntries(db);
    FUZZ_CHECK(e != NULL, "no entry array");
    if (from_json) {
        FUZZ_CHECK(apidbExportsRead(db) >= n, "%zu exports read, %zu entries", apidbExportsRead(db),
                   n);
        FUZZ_CHECK(n == 0 || (apidbNormCount(db) >= 1 && apidbNormCount(db) <= n),
                   "%zu pairs for %zu entries", apidbNormCount(db), n);
    }
    int any64 = 0;
    for (size_t i = 0; i < n && i < CHECK_ENTRIES_MAX; i++) {
        FUZZ_CHECK(i == 0 || e[i].address > e[i - 1].address, "entry %zu out of order", i);
        unsigned b = apidbEntryBitness(db, &e[i]);
        FUZZ_CHECK(b == 32 || b == 64, "entry %zu bitness %u", i, b);
        any64 |= b == 64;
        FUZZ_CHECK(e[i].norm < apidbNormCount(db), "entry %zu pair id %u", i, e[i].norm);
        (void)strlen(apidbEntryDll(db, &e[i]));
        (void)strlen(apidbEntryApi(db, &e[i]));
        if (from_json)
            checkNorm(db, &e[i]);
        checkFilters(db, &e[i]);
        checkFind(db, &e[i]);
    }
    if (from_json && n <= CHECK_ENTRIES_MAX) {
        FUZZ_CHECK(!any64 || apidbHas64(db), "64-bit entries but has64 is 0");
        checkNormsDistinct(db);
    }
    FUZZ_CHECK(apidbFootprint(db) > n * sizeof(apidb_entry), "footprint too small");
    checkCrawl(db);
}

void fuzzDbCheckEqual(const apidb *a, const apidb *b) {
    FUZZ_CHECK(strcmp(apidbOsName(a), apidbOsName(b)) == 0, "os_name");
    FUZZ_CHECK(apidbCount(a) == apidbCount(b), "count %zu vs %zu", apidbCount(a), apidbCount(b));
    FUZZ_CHECK(apidbExportsRead(a) == apidbExportsRead(b), "exports read");
    FUZZ_CHECK(apidbHas64(a) == apidbHas64(b), "has64");
    FUZZ_CHECK(apidbNormCount(a) == apidbNormCount(b), "pair count");
    FUZZ_CHECK(apidbFootprint(a) == apidbFootprint(b), "footprint %zu vs %zu", apidbFootprint(a),
               apidbFootprint(b));
    FUZZ_CHECK(memcmp(apidbFilter32(a), apidbFilter32(b), 8192) == 0, "filter32");
    FUZZ_CHECK(memcmp(apidbFilter64(a), apidbFilter64(b), 8192) == 0, "filter64");
    for (size_t i = 0; i < apidbCount(a); i++) {
        const apidb_entry *x = &apidbEntries(a)[i], *y = &apidbEntries(b)[i];
        FUZZ_CHECK(x->address == y->address && x->norm == y->norm &&
                       apidbEntryBitness(a, x) == apidbEntryBitness(b, y) &&
                       strcmp(apidbEntryDll(a, x), apidbEntryDll(b, y)) == 0 &&
                       strcmp(apidbEntryApi(a, x), apidbEntryApi(b, y)) == 0,
                   "entry %zu differs", i);
        const apidb_entry *fx = apidbFind(a, x->address, apidbEntryBitness(a, x));
        const apidb_entry *fy = apidbFind(b, y->address, apidbEntryBitness(b, y));
        FUZZ_CHECK((fx ? fx - apidbEntries(a) : -1) == (fy ? fy - apidbEntries(b) : -1),
                   "apidbFind differs at entry %zu", i);
    }
    for (uint32_t id = 0; id < apidbNormCount(a); id++) {
        const char *d1, *a1, *d2, *a2;
        size_t dl1, al1, dl2, al2;
        apidbNormPair(a, id, &d1, &dl1, &a1, &al1);
        apidbNormPair(b, id, &d2, &dl2, &a2, &al2);
        FUZZ_CHECK(dl1 == dl2 && al1 == al2 && memcmp(d1, d2, dl1) == 0 && memcmp(a1, a2, al1) == 0,
                   "pair %u differs", id);
    }
}
