/*
 * scan.h - one dump through the whole engine: base address, crawl, import
 * table flags, reference counts, filters and vectors for every DB, and the
 * primary vector with its confidence.
 *
 * DBs are given in load order; a later DB with the same os_name replaces the
 * earlier one in its place (the reference keys its maps by os_name). The
 * primary DB is the one with the highest percentage, the last of equals.
 *
 * Ownership: scanRun() allocates the scan_result, scanFree() releases it.
 * Row entries point into the DBs, which must outlive the result.
 * Thread-safety: scanRun() only reads its inputs; results are independent.
 */
#ifndef APIVECTOR_SCAN_H
#define APIVECTOR_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "apidb.h"
#include "crawl.h"
#include "error.h"
#include "pe.h"
#include "refs.h"
#include "vector.h"
#include "winapi.h"

typedef struct scan_options {
    int has_base_address; /* use base_address instead of inferring it */
    uint64_t base_address;
    const char *dump_name;   /* for the 0x<8-16 hex> suffix; may be NULL */
    int64_t filter_distance; /* neighbour distance; 0 = off (default 32) */
    uint64_t from_address;   /* 0 = no bound */
    uint64_t to_address;     /* 0 = no bound */
} scan_options;

/* Defaults: no explicit base, distance 32, no range. */
void scanOptionsInit(scan_options *o);

typedef struct scan_db {
    const apidb *db;
    crawl_rows crawl;
    crawl_rows filtered;
    apivector vector;
    vector_stats stats;
} scan_db;

typedef struct scan_result {
    uint64_t base_address_used;
    size_t num_apis_loaded; /* distinct addresses, summed over the DBs */
    scan_db *dbs;           /* one per distinct os_name, in first-load order */
    size_t ndbs;
    size_t primary;    /* index into dbs (valid when ndbs > 0) */
    double confidence; /* of the primary vector */
    refs_table refs;
} scan_result;

/* The base address from a dump name ("..._0x00400000"), or 0 with *found = 0. */
uint64_t scanBaseFromName(const char *name, int *found);

av_status scanRun(const winapi_table *t, const apidb *const *dbs, size_t ndbs,
                  const unsigned char *dump, size_t len, const scan_options *opt, scan_result **out,
                  char *err, size_t errlen);

void scanFree(scan_result *r);

/* The reference sites of a row, ascending: *n offsets. */
const refs_pair *scanRowRefs(const scan_result *r, const crawl_row *row, size_t *n);

#endif
