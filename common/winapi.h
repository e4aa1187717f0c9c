/*
 * winapi.h - the WinApi1024 table: which 1024 Windows APIs an ApiVector has a
 * bit for, in which order, and with which weight.
 *
 * The table file has 1024 lines `group;subgroup;dll!Function;rank` with ranks
 * 0..1023, each once. Bit i of a vector is the line with the i-th highest rank
 * (bit 0 = rank 1023), and the rank is the weight in weighted Jaccard matching
 * and the input to the confidence score. Lookups by (dll, function) are exact
 * and case-sensitive, as in the reference.
 *
 * The engine does no I/O: winapiParse() takes the file's bytes.
 * Ownership: a winapi_table is created by winapiParse() and freed by
 * winapiFree(). Strings returned by accessors live as long as the table.
 * Thread-safety: a parsed table is immutable; any number of threads may use it.
 */
#ifndef APIVECTOR_WINAPI_H
#define APIVECTOR_WINAPI_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define WINAPI_BITS 1024

typedef struct winapi_table winapi_table;

/* Parses the table text. `source` names the input in error messages (a path
 * or URL). Errors: AV_ERR_PARSE with "source:line: ..." for a malformed line,
 * a duplicate rank or (dll, function), or a count other than 1024. */
av_status winapiParse(const char *text, size_t len, const char *source, winapi_table **out,
                      char *err, size_t errlen);

void winapiFree(winapi_table *t);

/* Bit index of (dll, function), or -1 when the pair is not in the table.
 * Lengths are explicit so callers can pass slices without copying. */
int winapiLookup(const winapi_table *t, const char *dll, size_t dll_len, const char *fn,
                 size_t fn_len);

/* Rank (= weight) of a bit; bit must be 0..1023. */
unsigned winapiRank(const winapi_table *t, unsigned bit);

/* The DLL and function names of a bit. */
const char *winapiDll(const winapi_table *t, unsigned bit);
const char *winapiFunction(const winapi_table *t, unsigned bit);

#endif
