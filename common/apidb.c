/*
 * apidb.c - accessors of a loaded ApiScout DB and its crawl index.
 *
 * The index answers "is this dump value an export address of this bitness?"
 * for every byte offset of a dump, so it is built for rejection speed: the
 * filters let almost every value go after one bit test in an 8 KiB table that
 * stays in L1, and only the survivors probe the hash (Fibonacci hashing,
 * linear probing, load factor <= 0.5). Loading is in apidb_json.c (JSON) and
 * apidb_pack.c (compact form); both end in apidbIndexBuild().
 */
#include "apidb_internal.h"

#include <stdlib.h>
#include <string.h>

void apidbFree(apidb *db) {
    if (!db)
        return;
    free(db->os_name);
    free(db->entries);
    free(db->dlls);
    free(db->strings);
    free(db->norms);
    free(db->slots);
    free(db);
}

const char *apidbOsName(const apidb *db) {
    return db->os_name;
}

size_t apidbCount(const apidb *db) {
    return db->nentries;
}

const apidb_entry *apidbEntries(const apidb *db) {
    return db->entries;
}

int apidbHas64(const apidb *db) {
    return db->has64;
}

size_t apidbExportsRead(const apidb *db) {
    return db->exports_read;
}

const char *apidbEntryDll(const apidb *db, const apidb_entry *e) {
    return db->strings + db->dlls[e->dll].name;
}

const char *apidbEntryApi(const apidb *db, const apidb_entry *e) {
    return db->strings + e->api;
}

unsigned apidbEntryBitness(const apidb *db, const apidb_entry *e) {
    return db->dlls[e->dll].bitness;
}

const uint64_t *apidbFilter32(const apidb *db) {
    return db->filter32;
}

const uint64_t *apidbFilter64(const apidb *db) {
    return db->filter64;
}

size_t apidbNormCount(const apidb *db) {
    return db->nnorms;
}

void apidbNormPair(const apidb *db, uint32_t id, const char **dll, size_t *dll_len,
                   const char **api, size_t *api_len) {
    const apidb_norm *n = &db->norms[id];
    *dll = db->strings + n->dll;
    *dll_len = n->dll_len;
    *api = db->strings + n->api;
    *api_len = n->api_len;
}

size_t apidbFootprint(const apidb *db) {
    return sizeof(*db) + strlen(db->os_name) + 1 + db->nentries * sizeof(apidb_entry) +
           db->ndlls * sizeof(apidb_dll) + db->strings_len + db->nnorms * sizeof(apidb_norm) +
           (db->slot_mask + 1) * sizeof(apidb_slot);
}

static inline uint64_t apidbHash(const apidb *db, uint64_t address) {
    return (address * 0x9E3779B97F4A7C15ULL) >> db->slot_shift;
}

uint64_t apidbSlot(const apidb *db, uint64_t address) {
    uint64_t s = apidbHash(db, address);
    __builtin_prefetch(&db->slots[s]);
    return s;
}

const apidb_entry *apidbFindAt(const apidb *db, uint64_t address, unsigned bitness, uint64_t s) {
    for (;; s = (s + 1) & db->slot_mask) {
        uint32_t v = db->slots[s].val;
        if (v == 0)
            return NULL;
        if (db->slots[s].key == address) {
            const apidb_entry *e = &db->entries[v - 1];
            return db->dlls[e->dll].bitness == bitness ? e : NULL;
        }
    }
}

const apidb_entry *apidbFind(const apidb *db, uint64_t address, unsigned bitness) {
    return apidbFindAt(db, address, bitness, apidbHash(db, address));
}

const uint64_t *apidbByteSet(const apidb *db, int which) {
    return which == 3 ? db->byteset32_3 : (which == 5 ? db->byteset64_5 : db->byteset64_7);
}

static void byteSetAdd(uint64_t *set, unsigned byte) {
    set[byte >> 6] |= 1ULL << (byte & 63);
}

/* Only entries the reference could report are indexed: its crawl requires a
 * non-empty dll and api and a bitness equal to the pass. */
static int apidbIndexable(const apidb *db, const apidb_entry *e) {
    const apidb_dll *d = &db->dlls[e->dll];
    if (d->bitness != 32 && d->bitness != 64)
        return 0;
    if (db->strings[d->name] == '\0' || db->strings[e->api] == '\0')
        return 0;
    return d->bitness == 64 || e->address <= 0xFFFFFFFFULL;
}

av_status apidbIndexBuild(apidb *db, char *err, size_t errlen) {
    size_t indexed = 0;
    for (size_t i = 0; i < db->nentries; i++)
        indexed += apidbIndexable(db, &db->entries[i]);
    unsigned bits = 6;
    while (((size_t)1 << bits) < indexed * 2)
        bits++;
    size_t cap = (size_t)1 << bits;
    free(db->slots);
    db->slots = calloc(cap, sizeof(apidb_slot));
    if (!db->slots)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "DB %s: out of memory for the index",
                        db->os_name);
    db->slot_mask = cap - 1;
    db->slot_shift = 64 - bits;
    memset(db->filter32, 0, sizeof(db->filter32));
    memset(db->filter64, 0, sizeof(db->filter64));
    memset(db->byteset32_3, 0, sizeof(db->byteset32_3));
    memset(db->byteset64_5, 0, sizeof(db->byteset64_5));
    memset(db->byteset64_7, 0, sizeof(db->byteset64_7));
    for (size_t i = 0; i < db->nentries; i++) {
        const apidb_entry *e = &db->entries[i];
        if (!apidbIndexable(db, e))
            continue;
        uint64_t s = apidbHash(db, e->address);
        while (db->slots[s].val)
            s = (s + 1) & db->slot_mask;
        db->slots[s].key = e->address;
        db->slots[s].val = (uint32_t)(i + 1);
        if (db->dlls[e->dll].bitness == 32) {
            uint32_t k = (uint32_t)(e->address >> 16);
            db->filter32[k >> 6] |= 1ULL << (k & 63);
            byteSetAdd(db->byteset32_3, (unsigned)(e->address >> 24) & 0xFF);
        } else {
            uint32_t k = apidbFold64(e->address);
            db->filter64[k >> 6] |= 1ULL << (k & 63);
            byteSetAdd(db->byteset64_5, (unsigned)(e->address >> 40) & 0xFF);
            byteSetAdd(db->byteset64_7, (unsigned)(e->address >> 56) & 0xFF);
        }
    }
    return AV_OK;
}
