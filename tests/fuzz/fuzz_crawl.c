/*
 * fuzz_crawl.c - libFuzzer target for scanRun(): crawl, import flags,
 * reference counts, filters, vectors and the primary pick on arbitrary dump
 * bytes.
 *
 * The DBs are fixed and built at start-up from the JSON below (32- and
 * 64-bit DLLs, an ASLR offset, a msvcr* DLL, a None export, an address
 * shared by a 32- and a 64-bit export, a second DB with the same os_name),
 * one of them also through pack/unpack; the WinApi1024 table is generated
 * with the DBs' APIs among its entries so vectors get bits. Nothing is read
 * from disk, so the corpus does not depend on files outside the repository.
 * tests/fuzz/make_seeds.py reads the same JSON out of this file to plant DB
 * addresses in the seed dumps.
 *
 * Input: a 12-byte header, then the dump (at most 1 MiB):
 *   [0]     bit 0: explicit base address; bit 1: else a dump name carrying
 *           it; bit 2: from_address; bit 3: to_address; bits 4-6: DB set
 *   [1]     filter distance, int8 (0 turns the neighbour filter off)
 *   [2..9]  base address, little-endian
 *   [10,11] range: from = base + [10] * 16, to = base + len - [11] * 16
 * Shorter inputs are dumps scanned with the default options.
 *
 * The first 40 bytes, read as a C string, are also a dump name: the base
 * parsed from it must match a brute-force model of the reference's regex.
 *
 * For dumps up to 64 KiB every stage is recomputed by a naive model of the
 * conformance README (scan per offset with a binary search, the three
 * filters as written, the normalized-pair set) and compared field by field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "scan.h"

#define HEADER 12
#define DUMP_MAX (1u << 20)
#define MODEL_MAX (64u << 10)
#define JSON(...) #__VA_ARGS__

// clang-format off
static const char DB_JSON_A[] = JSON({"os_name": "Fuzz x86+x64", "dlls": {
    "32_6.1_kernel32.dll_0x75000000": {"bitness": 32, "base_address": 1962934272,
        "aslr_offset": 0, "exports": [
        {"address": 4096, "name": "CreateFileA", "ordinal": 1},
        {"address": 4112, "name": "CreateFileW", "ordinal": 2},
        {"address": 4128, "name": "VirtualAlloc", "ordinal": 3},
        {"address": 4144, "name": "GetProcAddress", "ordinal": 4},
        {"address": 4160, "name": "None", "ordinal": 7},
        {"address": 4176, "name": "Sleep@4", "ordinal": 8}]},
    "32_6.1_msvcr90.dll_0x74000000": {"bitness": 32, "base_address": 1946157056,
        "aslr_offset": 0, "exports": [
        {"address": 8192, "name": "malloc", "ordinal": 1},
        {"address": 8208, "name": "free", "ordinal": 2}]},
    "32_6.1_user32.dll_0x76000000": {"bitness": 32, "base_address": 1979711488,
        "aslr_offset": -65536, "exports": [
        {"address": 12288, "name": "MessageBoxA", "ordinal": 1},
        {"address": 12304, "name": "MessageBoxW", "ordinal": 2}]},
    "64_6.1_ntdll.dll_0x7ff800000000": {"bitness": 64, "base_address": 140703128616960,
        "aslr_offset": 0, "exports": [
        {"address": 4096, "name": "NtOpenProcess", "ordinal": 1},
        {"address": 4112, "name": "NtClose", "ordinal": 2}]},
    "64_6.1_kernel32.dll_0x7ff700000000": {"bitness": 64, "base_address": 140698833649664,
        "aslr_offset": 0, "exports": [
        {"address": 8192, "name": "VirtualAlloc", "ordinal": 1},
        {"address": 8208, "name": "CreateFileW", "ordinal": 2}]}}});

static const char DB_JSON_B[] = JSON({"os_name": "Fuzz x86+x64", "dlls": {
    "32_6.1_advapi32.dll_0x77000000": {"bitness": 32, "base_address": 1996488704,
        "aslr_offset": 0, "exports": [
        {"address": 4096, "name": "RegOpenKeyExA", "ordinal": 1},
        {"address": 4112, "name": "RegCloseKey", "ordinal": 2}]},
    "32_6.1_kernel32.dll_0x75000000": {"bitness": 32, "base_address": 1962934272,
        "aslr_offset": 0, "exports": [
        {"address": 4096, "name": "CreateFileA", "ordinal": 1}]}}});

static const char DB_JSON_C[] = JSON({"os_name": "Fuzz x64 only", "dlls": {
    "64_10.0_ntdll.dll_0x7ff800000000": {"bitness": 64, "base_address": 140703128616960,
        "aslr_offset": 0, "exports": [
        {"address": 4096, "name": "NtOpenProcess", "ordinal": 1},
        {"address": 4112, "name": "NtClose", "ordinal": 2}]},
    "32_10.0_ws2_32.dll_0x71000000": {"bitness": 32, "base_address": 1895825408,
        "aslr_offset": 0, "exports": [
        {"address": 4096, "name": "connect", "ordinal": 1},
        {"address": 4112, "name": "send", "ordinal": 2}]},
    "64_10.0_ws2_32.dll_0x71000000": {"bitness": 64, "base_address": 1895825408,
        "aslr_offset": 0, "exports": [
        {"address": 4112, "name": "recv", "ordinal": 3}]}}});
// clang-format on

static const char *const known_apis[] = {
    "kernel32.dll!CreateFile",   "kernel32.dll!VirtualAlloc", "kernel32.dll!GetProcAddress",
    "kernel32.dll!Sleep",        "msvcrt.dll!malloc",         "msvcrt.dll!free",
    "user32.dll!MessageBox",     "ntdll.dll!NtOpenProcess",   "ntdll.dll!NtClose",
    "advapi32.dll!RegOpenKeyEx", "ws2_32.dll!connect",        "ws2_32.dll!recv",
};

static winapi_table *table;
static apidb *db_a, *db_b, *db_c, *db_c_packed;

static apidb *loadDb(const char *json) {
    apidb *db;
    char err[AV_ERRLEN];
    if (apidbParseJson(json, strlen(json), "embedded", 0, &db, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "embedded DB rejected: %s\n", err);
        abort();
    }
    return db;
}

static apidb *repack(const apidb *db) {
    unsigned char *buf;
    size_t len;
    apidb *out;
    char err[AV_ERRLEN];
    if (apidbPack(db, &buf, &len, err, sizeof(err)) != AV_OK ||
        apidbUnpack(buf, len, "embedded", &out, err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "embedded DB pack round trip: %s\n", err);
        abort();
    }
    free(buf);
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    table = fuzzWinapiTable(known_apis, sizeof(known_apis) / sizeof(known_apis[0]));
    db_a = loadDb(DB_JSON_A);
    db_b = loadDb(DB_JSON_B);
    db_c = loadDb(DB_JSON_C);
    db_c_packed = repack(db_c);
    return 0;
}

/* The DB set of header bits 4-6, in load order. */
static size_t selectDbs(unsigned sel, const apidb **dbs) {
    switch (sel & 7) {
        case 0:
            dbs[0] = db_a;
            return 1;
        case 1:
            dbs[0] = db_a, dbs[1] = db_c;
            return 2;
        case 2:
            dbs[0] = db_c;
            return 1;
        case 3:
            dbs[0] = db_a, dbs[1] = db_b;
            return 2;
        case 4:
            dbs[0] = db_a, dbs[1] = db_b, dbs[2] = db_c;
            return 3;
        case 5:
            dbs[0] = db_c_packed, dbs[1] = db_a;
            return 2;
        case 6:
            return 0;
        default:
            dbs[0] = db_b, dbs[1] = db_a, dbs[2] = db_c_packed;
            return 3;
    }
}

typedef struct scan_input {
    scan_options opt;
    char name[40];
    const apidb *dbs[3];
    size_t ndbs;
    const uint8_t *dump;
    size_t len;
} scan_input;

static void decodeInput(const uint8_t *data, size_t size, scan_input *in) {
    scanOptionsInit(&in->opt);
    in->dump = data;
    in->len = size;
    if (size < HEADER) {
        in->ndbs = selectDbs(4, in->dbs);
        return;
    }
    in->dump = data + HEADER;
    in->len = size - HEADER;
    uint8_t flags = data[0];
    uint64_t base = fuzzLe(data + 2, 8);
    in->opt.filter_distance = (int8_t)data[1];
    if (flags & 1) {
        in->opt.has_base_address = 1;
        in->opt.base_address = base;
    } else if (flags & 2) {
        snprintf(in->name, sizeof(in->name), "dump_0x%0*llx", 8 + (data[10] & 7),
                 (unsigned long long)base);
        in->opt.dump_name = in->name;
    }
    if (flags & 4)
        in->opt.from_address = base + (uint64_t)data[10] * 16;
    if (flags & 8)
        in->opt.to_address = base + in->len - (uint64_t)data[11] * 16;
    in->ndbs = selectDbs(flags >> 4, in->dbs);
}

static int indexable(const apidb *db, const apidb_entry *e, unsigned bitness) {
    unsigned b = apidbEntryBitness(db, e);
    return b == bitness && *apidbEntryDll(db, e) && *apidbEntryApi(db, e) &&
           (b == 64 || e->address <= 0xFFFFFFFFULL);
}

static const apidb_entry *naiveFind(const apidb *db, uint64_t v, unsigned bitness) {
    const apidb_entry *e = apidbEntries(db);
    size_t lo = 0, hi = apidbCount(db);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].address < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < apidbCount(db) && e[lo].address == v && indexable(db, &e[lo], bitness) ? &e[lo]
                                                                                       : NULL;
}

/* Crawl rows of one DB: all 32-bit hits by offset, then 64-bit ones. */
static void checkCrawl(const scan_input *in, const scan_db *sd, int has64) {
    size_t k = 0;
    for (unsigned w = 32; w <= (has64 ? 64u : 32u); w += 32)
        for (size_t o = 0; o + w / 8 <= in->len; o++) {
            uint64_t v = fuzzLe(in->dump + o, w / 8);
            const apidb_entry *e = naiveFind(sd->db, v, w);
            if (!e)
                continue;
            FUZZ_CHECK(k < sd->crawl.n, "crawl lacks the %u-bit hit at %zu", w, o);
            const crawl_row *r = &sd->crawl.rows[k++];
            FUZZ_CHECK(r->offset == o && r->address == v && r->entry == e && r->bitness == w,
                       "crawl row %zu: offset %llu bitness %u, model %zu/%u", k - 1,
                       (unsigned long long)r->offset, r->bitness, o, w);
        }
    FUZZ_CHECK(k == sd->crawl.n, "%zu crawl rows, model %zu", sd->crawl.n, k);
}

static int keepStatic(const crawl_row *r, const scan_input *in, uint64_t base) {
    unsigned __int128 b = base;
    if (r->address >= b && r->address <= b + in->len)
        return 0;
    if (in->opt.from_address && b + r->offset < in->opt.from_address)
        return 0;
    if (in->opt.to_address && b + r->offset > in->opt.to_address)
        return 0;
    return 1;
}

/* The three filters exactly as the README states them. */
static void checkFilter(const scan_input *in, const scan_db *sd, uint64_t base) {
    const crawl_row **kept = malloc((sd->crawl.n + 1) * sizeof(*kept));
    const crawl_row **out = malloc((sd->crawl.n + 1) * sizeof(*out));
    if (!kept || !out)
        abort();
    size_t m = 0, n = 0;
    for (size_t i = 0; i < sd->crawl.n; i++)
        if (keepStatic(&sd->crawl.rows[i], in, base))
            kept[m++] = &sd->crawl.rows[i];
    int64_t dist = in->opt.filter_distance;
    if (dist == 0) {
        memcpy(out, kept, m * sizeof(*out));
        n = m;
    } else if (m >= 2) {
        const crawl_row *last = NULL;
        for (size_t i = 0; i + 1 < m; i++) {
            if ((__int128)kept[i + 1]->offset - (__int128)kept[i]->offset > dist)
                continue;
            if (last != kept[i])
                out[n++] = kept[i];
            out[n++] = last = kept[i + 1];
        }
    }
    FUZZ_CHECK(sd->filtered.n == n, "%zu filtered rows, model %zu", sd->filtered.n, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(memcmp(&sd->filtered.rows[i], out[i], sizeof(crawl_row)) == 0,
                   "filtered row %zu differs", i);
    free(kept);
    free(out);
}

/* The normalized-pair set of the filtered rows and the bits it sets. */
static void checkVector(const scan_db *sd) {
    apivector v = {{0}};
    unsigned unique = 0;
    for (size_t i = 0; i < sd->filtered.n; i++) {
        uint32_t id = sd->filtered.rows[i].entry->norm;
        size_t j = 0;
        while (j < i && sd->filtered.rows[j].entry->norm != id)
            j++;
        if (j < i)
            continue;
        unique++;
        const char *dll, *api;
        size_t dl, al;
        apidbNormPair(sd->db, id, &dll, &dl, &api, &al);
        int bit = winapiLookup(table, dll, dl, api, al);
        if (bit >= 0)
            vectorSet(&v, (unsigned)bit);
    }
    FUZZ_CHECK(memcmp(&v, &sd->vector, sizeof(v)) == 0, "vector differs from the model");
    FUZZ_CHECK(sd->stats.num_unique_apis == unique && sd->stats.in_api_vector == vectorPopcount(&v),
               "stats %u/%u, model %u/%u", sd->stats.num_unique_apis, sd->stats.in_api_vector,
               unique, vectorPopcount(&v));
    double pct = unique ? 100.0 * vectorPopcount(&v) / unique : 0.0;
    FUZZ_CHECK(sd->stats.percentage == pct, "percentage %g, model %g", sd->stats.percentage, pct);
}

/* Import flag and reference count of every row, from the engine's parts. */
static void checkAnnotations(const scan_input *in, const scan_result *r) {
    pe_imports imp;
    char err[AV_ERRLEN];
    FUZZ_CHECK(peImportsParse(in->dump, in->len, &imp, err, sizeof(err)) == AV_OK, "%s", err);
    for (size_t i = 0; i < r->ndbs; i++)
        for (size_t j = 0; j < r->dbs[i].crawl.n; j++) {
            const crawl_row *row = &r->dbs[i].crawl.rows[j];
            size_t n;
            const refs_pair *p = scanRowRefs(r, row, &n);
            FUZZ_CHECK(row->ref_count == 1 + n, "row %zu: ref_count %u, %zu sites", j,
                       row->ref_count, n);
            for (size_t s = 0; s < n; s++)
                FUZZ_CHECK(p[s].target == row->offset && (s == 0 || p[s].site > p[s - 1].site),
                           "row %zu: site %zu", j, s);
            FUZZ_CHECK(row->in_import_table == peImportsIsSlot(&imp, row->offset),
                       "row %zu: import flag %d", j, row->in_import_table);
        }
    peImportsFree(&imp);
}

static void checkModel(const scan_input *in, const scan_result *r) {
    int found = 0;
    uint64_t base = in->opt.has_base_address ? in->opt.base_address
                                             : scanBaseFromName(in->opt.dump_name, &found);
    FUZZ_CHECK(r->base_address_used == base, "base 0x%llx, model 0x%llx",
               (unsigned long long)r->base_address_used, (unsigned long long)base);
    int has64 = 0;
    for (size_t i = 0; i < r->ndbs; i++)
        has64 |= apidbHas64(r->dbs[i].db);
    for (size_t i = 0; i < r->ndbs; i++) {
        checkCrawl(in, &r->dbs[i], has64);
        checkFilter(in, &r->dbs[i], base);
        checkVector(&r->dbs[i]);
    }
    checkAnnotations(in, r);
}

/* os_name replacement, primary pick and confidence. */
static void checkResult(const scan_input *in, const scan_result *r) {
    const apidb *slots[3];
    size_t n = 0, loaded = 0;
    for (size_t i = 0; i < in->ndbs; i++) {
        size_t j = 0;
        while (j < n && strcmp(apidbOsName(slots[j]), apidbOsName(in->dbs[i])) != 0)
            j++;
        slots[j] = in->dbs[i];
        n += j == n;
    }
    FUZZ_CHECK(r->ndbs == n, "%zu DBs, model %zu", r->ndbs, n);
    size_t primary = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(r->dbs[i].db == slots[i], "DB %zu is not the last loaded with its os_name", i);
        loaded += apidbCount(slots[i]);
        if (r->dbs[i].stats.percentage >= r->dbs[primary].stats.percentage)
            primary = i;
        FUZZ_CHECK(r->dbs[i].filtered.n <= r->dbs[i].crawl.n, "filter added rows");
    }
    FUZZ_CHECK(r->num_apis_loaded == loaded, "num_apis_loaded %zu, model %zu", r->num_apis_loaded,
               loaded);
    if (n == 0)
        return;
    FUZZ_CHECK(r->primary == primary, "primary %zu, model %zu", r->primary, primary);
    double conf = vectorConfidence(table, &r->dbs[primary].vector);
    FUZZ_CHECK(r->confidence == conf, "confidence %g, model %g", r->confidence, conf);
}

static int isHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* re.search(r"0x([0-9a-fA-F]{8,16})$", name) by brute force: every start
 * and length, `$` matching at the end or before one final newline. */
static void checkBaseFromName(const uint8_t *data, size_t size) {
    char name[41];
    size_t n = size < 40 ? size : 40;
    memcpy(name, data, n);
    name[n] = '\0';
    n = strlen(name);
    size_t end = n && name[n - 1] == '\n' ? n - 1 : n;
    int want_found = 0;
    uint64_t want = 0;
    for (size_t i = 0; i + 2 <= end && !want_found; i++)
        for (size_t l = 8; l <= 16 && !want_found; l++) {
            if (name[i] != '0' || name[i + 1] != 'x' || i + 2 + l != end)
                continue;
            size_t h = 0;
            while (h < l && isHex(name[i + 2 + h]))
                h++;
            if (h == l) {
                want_found = 1;
                want = strtoull(name + i + 2, NULL, 16);
            }
        }
    int found;
    uint64_t got = scanBaseFromName(name, &found);
    FUZZ_CHECK(found == want_found && got == want, "base of \"%s\": %d/0x%llx, model %d/0x%llx",
               name, found, (unsigned long long)got, want_found, (unsigned long long)want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > DUMP_MAX + HEADER)
        return 0;
    checkBaseFromName(data, size);
    scan_input in;
    decodeInput(data, size, &in);
    scan_result *r = NULL;
    char err[AV_ERRLEN] = "";
    av_status st = scanRun(table, in.dbs, in.ndbs, in.dump, in.len, &in.opt, &r, err, sizeof(err));
    FUZZ_CHECK(st == AV_OK && r, "scanRun failed (only OOM may): %s", err);
    checkResult(&in, r);
    if (in.len <= MODEL_MAX)
        checkModel(&in, r);
    scanFree(r);
    return 0;
}
