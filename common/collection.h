/*
 * collection.h - ApiVector collections: `family;sample;in;num;vector` lines
 * (Malpedia's format), only fields 1, 2 and 5 used.
 *
 * Entries are kept per family, then per sample, both in order of first
 * appearance, exactly like the reference's dict of dicts: a repeated
 * (family, sample) replaces the vector but keeps its place, and the same
 * sample under another family is a separate entry. Blank lines and lines
 * starting with '#' are skipped. A malformed line (fewer than 5 fields, or
 * an invalid vector) is skipped and reported with its line number in the
 * collection's warnings: one bad line does not cost the whole collection.
 *
 * Ownership: created by collectionParse(), freed by collectionFree(); strings
 * and vectors returned by accessors live as long as the collection.
 * Thread-safety: immutable after parsing; share it freely between threads.
 */
#ifndef APIVECTOR_COLLECTION_H
#define APIVECTOR_COLLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "vector.h"

typedef struct collection collection;

typedef struct collection_entry {
    uint32_t family; /* index into the family names */
    const char *sample;
    apivector vector;
    uint32_t weight; /* sum of the ranks of the set bits */
} collection_entry;

/* Parses a collection. Only allocation failure is fatal; see the warnings. */
av_status collectionParse(const char *text, size_t len, const char *source, collection **out,
                          char *err, size_t errlen);

void collectionFree(collection *c);

size_t collectionSize(const collection *c);        /* vectors_in_collection */
size_t collectionFamilyCount(const collection *c); /* families_in_collection */
const collection_entry *collectionEntries(const collection *c);
const char *collectionFamily(const collection *c, uint32_t family);

/* Malformed lines skipped while parsing: their count, and the message of the
 * i-th ("source:line: reason"); at most the first 100 messages are kept. */
size_t collectionWarningCount(const collection *c);
const char *collectionWarning(const collection *c, size_t i);

/* Memory held by the collection, for cache budgets. */
size_t collectionFootprint(const collection *c);

#endif
