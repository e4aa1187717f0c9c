/*
 * apidb.h - an ApiScout DB: the export addresses of every DLL of one analysis
 * VM, indexed for the crawl.
 *
 * A DB comes from DatabaseBuilder's JSON (apidbParseJson) or from the compact
 * binary form the fetcher caches in Redis (apidbUnpack, see apidb_pack.c).
 * Either way the result is the reference's address map: address =
 * base_address + address - aslr_offset (aslr_offset taken as 0 when
 * ignore_aslr), a later export at the same address replacing the earlier one
 * whatever its bitness, `None` names written `None<ordinal>`, the dll field
 * being the DLL key without its first two `_` fields.
 *
 * Besides the sorted entries a DB carries what the crawl needs to reject a
 * candidate value in a couple of instructions: two 65536-bit filters (32-bit
 * values by their top 16 bits, 64-bit values by a fold of bits 16..63) and an
 * open addressing hash from address to entry. Only entries that can produce a
 * crawl hit (bitness 32 or 64, non-empty dll and api) are indexed.
 *
 * For the vectorizer every entry also knows its normalized (dll, api) pair id
 * (dll without its last `_` part, msvcr* -> msvcrt.dll, api cut at `@` and one
 * trailing A/W dropped), so a vector costs one string lookup per unique API.
 *
 * Ownership: a DB is created by apidbParseJson()/apidbUnpack() and freed by
 * apidbFree(); every pointer returned by an accessor lives as long as the DB.
 * Thread-safety: a loaded DB is immutable; any number of threads may share it.
 */
#ifndef APIVECTOR_APIDB_H
#define APIVECTOR_APIDB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct apidb apidb;

typedef struct apidb_entry {
    uint64_t address;
    uint32_t dll;  /* index into the DB's DLL table */
    uint32_t api;  /* offset of the NUL-terminated API name in the string arena */
    uint32_t norm; /* normalized (dll, api) pair id, see apidbNormPair() */
    uint32_t zero; /* always 0: makes the padding explicit, so packs are deterministic */
} apidb_entry;

/* Parses DatabaseBuilder JSON. `source` names the input in errors, which
 * look like "source: dlls.32_x.dll_0x1000.exports[3].address: must be a
 * non-negative integer" or "source:12:5: JSON syntax: ...". */
av_status apidbParseJson(const char *json, size_t len, const char *source, int ignore_aslr,
                         apidb **out, char *err, size_t errlen);

void apidbFree(apidb *db);

const char *apidbOsName(const apidb *db);

/* Distinct addresses in the map (the reference's getNumApisLoaded per DB). */
size_t apidbCount(const apidb *db);

/* All entries, sorted by address, one per address. */
const apidb_entry *apidbEntries(const apidb *db);

/* Whether any DLL of the DB is 64-bit: only then does the crawl read qwords. */
int apidbHas64(const apidb *db);

/* Number of exports read from the source, before address collisions. */
size_t apidbExportsRead(const apidb *db);

/* The entry's dll field (e.g. "kernel32.dll_0x75000000"), api name and bitness. */
const char *apidbEntryDll(const apidb *db, const apidb_entry *e);
const char *apidbEntryApi(const apidb *db, const apidb_entry *e);
unsigned apidbEntryBitness(const apidb *db, const apidb_entry *e);

/* Looks a crawl value up: the indexed entry at exactly this address with this
 * bitness, or NULL. */
const apidb_entry *apidbFind(const apidb *db, uint64_t address, unsigned bitness);

/* The same lookup in two steps, so the crawl can prefetch the slots of a
 * batch of candidates before probing them: apidbSlot() computes where the
 * probe starts and prefetches it, apidbFindAt() probes from there. */
uint64_t apidbSlot(const apidb *db, uint64_t address);
const apidb_entry *apidbFindAt(const apidb *db, uint64_t address, unsigned bitness, uint64_t slot);

/* Byte sets (256 bits each) for a SIMD pre-filter: which values byte 3 of a
 * 32-bit export address takes (which = 3), and bytes 5 and 7 of a 64-bit one
 * (which = 5, 7). */
const uint64_t *apidbByteSet(const apidb *db, int which);

/* The crawl's pre-filters: 1024 words each, see the file comment. */
const uint64_t *apidbFilter32(const apidb *db);
const uint64_t *apidbFilter64(const apidb *db);

/* Index of a 64-bit value in apidbFilter64(). */
static inline uint32_t apidbFold64(uint64_t v) {
    return (uint32_t)(((v >> 16) ^ (v >> 32) ^ (v >> 48)) & 0xFFFF);
}

/* Normalized pairs: count, and the dll and api strings of pair `id`. */
size_t apidbNormCount(const apidb *db);
void apidbNormPair(const apidb *db, uint32_t id, const char **dll, size_t *dll_len,
                   const char **api, size_t *api_len);

/* Memory held by the DB in bytes (for cache budgets). */
size_t apidbFootprint(const apidb *db);

/* Compact binary form (apidb_pack.c). apidbPack returns a malloc'ed buffer the
 * caller frees. apidbUnpack validates header, sizes and checksum and names
 * the first inconsistency it finds. */
av_status apidbPack(const apidb *db, unsigned char **out, size_t *outlen, char *err, size_t errlen);
av_status apidbUnpack(const unsigned char *buf, size_t len, const char *source, apidb **out,
                      char *err, size_t errlen);

/* Rewrites the checksum of a compact DB in place, so tests and fuzzers can
 * alter a pack and still reach the content checks behind the checksum. Does
 * nothing to a buffer shorter than the header. */
void apidbPackReseal(unsigned char *buf, size_t len);

#endif
