/*
 * fuzz_dbcheck.h - invariants of a loaded ApiScout DB, checked by the fuzz
 * targets that produce DBs (fuzz_apidb_json, fuzz_apidb_pack).
 *
 * Thread-safety: pure checks; they abort through FUZZ_CHECK on a violation.
 */
#ifndef APIVECTOR_FUZZ_DBCHECK_H
#define APIVECTOR_FUZZ_DBCHECK_H

#include "apidb.h"

/* Checks the entries, names, index, filters and a crawl of a dump built
 * from the DB's own addresses against a naive crawl. `from_json` adds the
 * checks that hold only for DBs built by the JSON loader (normalized pairs
 * computed from the names, has64 implied by 64-bit entries); an unpacked DB
 * carries whatever pairs and flags its bytes say. */
void fuzzDbCheck(const apidb *db, int from_json);

/* Checks that two DBs hold the same content (the pack round trip). */
void fuzzDbCheckEqual(const apidb *a, const apidb *b);

#endif
