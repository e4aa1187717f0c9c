/*
 * crawl.h - find every value in a dump that is an export address of a DB.
 *
 * For each DB, every offset with 4 bytes left is read as a little-endian
 * uint32 and looked up among the DB's 32-bit exports; then, when the DB has
 * 64-bit DLLs, every offset with 8 bytes left is read as a uint64 and looked
 * up among its 64-bit exports. Rows come out as all 32-bit hits by offset,
 * then all 64-bit hits by offset: the reference's order. One pass over the
 * dump serves every DB and both widths.
 *
 * The crawl works on the caller's buffer (typically an mmap of the dump) and
 * never copies it; its own memory grows with the number of hits only.
 *
 * Ownership: rows are malloc'ed by crawlRun() into the caller's crawl_rows
 * array (one per DB) and released with crawlRowsFree().
 * Thread-safety: crawlRun() only reads the DBs and the dump, so any number of
 * threads may crawl concurrently with shared DBs.
 */
#ifndef APIVECTOR_CRAWL_H
#define APIVECTOR_CRAWL_H

#include <stddef.h>
#include <stdint.h>

#include "apidb.h"
#include "error.h"

typedef struct crawl_row {
    uint64_t offset;
    uint64_t address;
    const apidb_entry *entry; /* the DB entry hit: dll, api, bitness, norm */
    uint8_t bitness;          /* 32 or 64 */
    int8_t in_import_table;   /* -1 unknown (reported as null), 0 no, 1 yes */
    uint32_t ref_count;       /* 1 + number of reference sites */
} crawl_row;

typedef struct crawl_rows {
    crawl_row *rows;
    size_t n;
} crawl_rows;

/* Crawls `dump` with `ndbs` DBs; out[i] receives DB i's rows (flags and
 * reference counts not yet set: see scan.c). */
av_status crawlRun(const apidb *const *dbs, size_t ndbs, const unsigned char *dump, size_t len,
                   crawl_rows *out, char *err, size_t errlen);

/* crawlRun() with flags: CRAWL_SCALAR skips the SIMD pre-filter, so tests and
 * benchmarks can check and measure the portable path on any machine. */
#define CRAWL_SCALAR 1u
av_status crawlRunFlags(const apidb *const *dbs, size_t ndbs, const unsigned char *dump, size_t len,
                        unsigned flags, crawl_rows *out, char *err, size_t errlen);

void crawlRowsFree(crawl_rows *r);

#endif
