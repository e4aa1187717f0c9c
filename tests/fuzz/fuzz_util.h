/*
 * fuzz_util.h - helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Targets check invariants with FUZZ_CHECK, which prints what broke and
 * aborts, so libFuzzer records the input as a crash. It is not assert():
 * the fuzz build is a Release build with NDEBUG, and a check that vanishes
 * there would prove nothing. The WinApi1024 table is generated in code so
 * that no target depends on files outside the repository.
 *
 * Ownership: fuzzWinapiText() returns a malloc'ed buffer, fuzzWinapiTable()
 * a table freed with winapiFree(). Thread-safety: libFuzzer runs targets on
 * one thread; nothing here is shared.
 */
#ifndef APIVECTOR_FUZZ_UTIL_H
#define APIVECTOR_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "winapi.h"

#define FUZZ_SOURCE "fuzz-input"

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzzFail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                      \
    } while (0)

/* The libFuzzer entry points, declared for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Prints "file:line: check `cond` failed: <message>" and aborts. */
void fuzzFail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* A valid WinApi1024 table text: the given "dll!Function" names first, then
 * synthetic entries up to 1024 lines. Ranks are a fixed permutation of
 * 0..1023 so both rare (rank > 64) and common APIs occur among the named
 * ones. Aborts on allocation failure or when napis > 1024. */
char *fuzzWinapiText(const char *const *apis, size_t napis, size_t *len);

/* winapiParse() of fuzzWinapiText(); aborts when the engine rejects it. */
winapi_table *fuzzWinapiTable(const char *const *apis, size_t napis);

/* Little-endian reads; the caller guarantees the bytes exist. */
uint64_t fuzzLe(const uint8_t *p, unsigned size);

/* Whether an error message names the input, as every engine error must. */
int fuzzErrorNamesSource(const char *err);

#endif
