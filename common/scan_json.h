/*
 * scan_json.h - a scan result as the JSON document `apivector scan --json`
 * prints: the same fields, names and shapes as a conformance case's
 * "expected" object, so analysts can diff it against the reference.
 *
 * Unsigned 64-bit values above 2^63-1 (possible only with hostile DBs or
 * names: no user-mode address is that high) cannot be JSON integers in
 * jansson; they are written as "0x..." strings instead of being corrupted.
 *
 * Ownership: returns a new jansson reference the caller json_decref()s.
 * Thread-safety: reentrant.
 */
#ifndef APIVECTOR_SCAN_JSON_H
#define APIVECTOR_SCAN_JSON_H

#include <jansson.h>

#include "collection.h"
#include "match.h"
#include "scan.h"

/* A uint64 as a JSON integer, or a "0x..." string above 2^63-1. */
json_t *scanJsonU64(uint64_t v);

/* One crawl row of DB db: [offset, address, dll, api, bitness,
 * in_import_table, ref_count, [ref_offsets]]. */
json_t *scanJsonRow(const scan_result *r, const apidb *db, const crawl_row *row);

/* The whole document; when c is not NULL, "collection_matches" holds every
 * entry of c scored against the primary vector, in result order, and
 * collection_name is what its "collection" field says. */
json_t *scanJsonDocument(const scan_result *r, const winapi_table *t, const collection *c,
                         const char *collection_name);

/* The "collection_matches" object for a vector (shared with `apivector match`). */
json_t *scanJsonMatches(const winapi_table *t, const collection *c, const char *collection_name,
                        const apivector *v, const char *vector_text);

#endif
