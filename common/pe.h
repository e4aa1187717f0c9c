/*
 * pe.h - the little of a PE header the crawl reads from a dump: the image
 * base used to resolve 32-bit reference sites, and the import table slots.
 *
 * A dump is taken as a mapped image (RVA = offset) and read exactly as the
 * reference reads it, quirks included (no MZ/PE signature check, bit 31 of
 * the low dword as the ordinal flag even for PE32+). Every read is bounds
 * checked; a read past the end ends the import parse and keeps what was
 * complete before it, which is the reference's behaviour. Hostile thunk runs
 * (overlapping, sharing suffixes, never ending) cost linear time: each thunk
 * position is walked at most once.
 *
 * Ownership: pe_imports is filled by peImportsParse() and released by
 * peImportsFree(). Thread-safety: no shared state; a parsed pe_imports is
 * read-only afterwards.
 */
#ifndef APIVECTOR_PE_H
#define APIVECTOR_PE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* e_lfanew: the 16-bit word at 0x3c, or 0 when the dump is shorter than 0x40. */
uint32_t pePeOffset(const unsigned char *dump, size_t len);

/* The uint32 at e_lfanew+0x34 (ImageBase, or its high half for PE32+), or 0
 * when e_lfanew is 0 or the dump is too short. */
uint64_t peImageBase32(const unsigned char *dump, size_t len);

typedef struct pe_run {
    uint64_t first; /* first slot index: FirstThunk / step */
    uint64_t count;
} pe_run;

typedef struct pe_imports {
    unsigned step;   /* 4 (PE32) or 8 (PE32+) */
    pe_run *runs[8]; /* per residue FirstThunk % step: merged, sorted index intervals */
    size_t nruns[8];
    uint64_t num_slots; /* slots found; 0 means "no import table" (the null flag) */
} pe_imports;

/* Parses the import directory. Fails only with AV_ERR_NOMEM: malformed
 * headers simply yield fewer (or no) slots. */
av_status peImportsParse(const unsigned char *dump, size_t len, pe_imports *out, char *err,
                         size_t errlen);

void peImportsFree(pe_imports *imp);

/* -1 when the dump has no import slot at all (reported as null), else
 * whether `offset` is an import slot. */
int peImportsIsSlot(const pe_imports *imp, uint64_t offset);

#endif
