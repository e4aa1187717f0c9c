/*
 * filter.h - drop crawl rows that are unlikely to be real API references.
 *
 * Applied per DB, in the reference's order:
 *  1. own image: rows whose address lies in [base, base + dump length]
 *     (pointers into the dump's own image are not API references);
 *  2. range: when from_address != 0 keep base + offset >= from_address, when
 *     to_address != 0 keep base + offset <= to_address;
 *  3. neighbours (distance != 0): fewer than 2 rows -> none; else a row is
 *     kept when the signed offset difference to its predecessor or to its
 *     successor (next - this) is <= distance. Rows are in crawl order (32-bit
 *     block then 64-bit block), so the pair across the boundary has a
 *     negative difference and always survives, as in the reference.
 *
 * Thread-safety: pure function. Ownership: writes into the caller's array.
 */
#ifndef APIVECTOR_FILTER_H
#define APIVECTOR_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "crawl.h"

typedef struct filter_options {
    int own_image;         /* apply the own-image filter (the reference always does) */
    uint64_t base_address; /* base_address_used */
    uint64_t dump_len;
    uint64_t from_address; /* 0 = no lower bound */
    uint64_t to_address;   /* 0 = no upper bound */
    int64_t distance;      /* 0 = no neighbour filter */
} filter_options;

/* Copies the surviving rows of in[0..n) to out (room for n rows) in order
 * and returns how many survived. in and out must not overlap. */
size_t filterApply(const crawl_row *in, size_t n, const filter_options *opt, crawl_row *out);

#endif
