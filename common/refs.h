/*
 * refs.h - code references to crawl hits: `FF 15` (call [mem]) and `FF 25`
 * (jmp [mem]) sites whose memory operand points at a hit's offset.
 *
 * Every site with 4 bytes after its opcode is read two ways, as the
 * reference does: as 32-bit code, target = uint32 operand - base (base =
 * base_address_used, or the PE header's ImageBase when that is 0), and as
 * 64-bit code, target = int32 operand + site + 6 (FF 15) or + 7 (FF 25). A
 * target counts when 0 < target < dump length. A row of bitness b at offset o
 * then has ref_count = 1 + number of sites whose b-bit target is o.
 *
 * Ownership: refs_table is filled by refsCollect() and released by
 * refsFree(). Thread-safety: read-only after refsCollect().
 */
#ifndef APIVECTOR_REFS_H
#define APIVECTOR_REFS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct refs_pair {
    uint64_t target;
    uint64_t site;
} refs_pair;

typedef struct refs_table {
    refs_pair *by32; /* sorted by (target, site) */
    size_t n32;
    refs_pair *by64;
    size_t n64;
} refs_table;

av_status refsCollect(const unsigned char *dump, size_t len, uint64_t base, refs_table *out,
                      char *err, size_t errlen);

void refsFree(refs_table *t);

/* The sites referencing `offset` as `bitness`-bit code: *n pairs starting at
 * the returned pointer, in ascending site order (NULL when none). */
const refs_pair *refsFind(const refs_table *t, unsigned bitness, uint64_t offset, size_t *n);

#endif
