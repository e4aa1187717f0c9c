/*
 * test_pe.c - unit tests of the PE header reads: e_lfanew, the image base
 * used for 32-bit references, and the import table slots.
 *
 * Every dump is a zeroed buffer with hand-placed fields (e_lfanew = 0x80,
 * Machine at 0x84, optional header magic at 0x98, import directory RVA at
 * 0x100 for PE32 and 0x110 for PE32+), descriptors of 20 bytes
 * (OriginalFirstThunk, -, -, Name, FirstThunk) and thunk arrays. The
 * expected slots follow from the README: slot FirstThunk + i*size for each
 * thunk before the zero one, a read past the end ending the whole parse
 * while keeping the descriptors completed before it, ordinals recognized by
 * bit 31 of the low dword even in PE32+, and "null" (-1) when no slot was
 * found at all. Each test compares the full slot set over every offset.
 */
#include "engine_fixtures.h"

#include <time.h>

#include "pe.h"

#define LEN 0x400

/* Writes the headers; import_rva 0 leaves the directory empty. */
static void peHeader(unsigned char *d, uint16_t machine, uint16_t magic, uint32_t import_rva) {
    fxPut16(d, 0x3c, 0x80);
    fxPut16(d, 0x84, machine);
    fxPut16(d, 0x98, magic);
    fxPut32(d, magic == 0x20b ? 0x110 : 0x100, import_rva);
}

static void desc(unsigned char *d, size_t off, uint32_t oft, uint32_t name, uint32_t ft) {
    fxPut32(d, off, oft);
    fxPut32(d, off + 12, name);
    fxPut32(d, off + 16, ft);
}

/* Parses d and checks that exactly the offsets in slots[] are slots, or
 * that there is no import table at all when n == 0. */
static void expectSlots(const unsigned char *d, size_t len, const uint64_t *slots, size_t n) {
    pe_imports imp;
    char err[AV_ERRLEN] = "";
    assert_int_equal(peImportsParse(d, len, &imp, err, sizeof(err)), AV_OK);
    for (uint64_t o = 0; o < len + 16; o++) {
        int want = 0;
        for (size_t i = 0; i < n; i++)
            want |= slots[i] == o;
        int got = peImportsIsSlot(&imp, o);
        if (n == 0 && got != -1)
            fail_msg("offset 0x%llx: %d, expected -1 (no import table)", (unsigned long long)o,
                     got);
        if (n > 0 && got != want)
            fail_msg("offset 0x%llx: %d, expected %d", (unsigned long long)o, got, want);
    }
    peImportsFree(&imp);
}

static void test_pe_offset_and_base(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    d[0x3c] = 0x34;
    d[0x3d] = 0x01;
    d[0x3e] = 0xff; /* only the 16-bit word counts */
    assert_int_equal(pePeOffset(d, 0x40), 0x134);
    assert_int_equal(pePeOffset(d, 0x3f), 0); /* shorter than 0x40 */
    assert_int_equal(pePeOffset(d, 0), 0);
    /* PE32 ImageBase at e_lfanew + 0x34. */
    fxPut16(d, 0x3c, 0x80);
    fxPut32(d, 0x80 + 0x34, 0x00400000);
    assert_int_equal(peImageBase32(d, LEN), 0x400000);
    assert_int_equal(peImageBase32(d, 0x80 + 0x38), 0x400000); /* exactly long enough */
    assert_int_equal(peImageBase32(d, 0x80 + 0x37), 0);
    /* PE32+: ImageBase is the qword at +0x30; +0x34 is its high half. */
    fxPut64(d, 0x80 + 0x30, 0x0000000140000000ULL);
    assert_int_equal(peImageBase32(d, LEN), 1);
    /* e_lfanew 0: no header, even though bytes 0x34..0x37 are set. */
    unsigned char z[LEN] = {0};
    fxPut32(z, 0x34, 0x12345678);
    assert_int_equal(peImageBase32(z, LEN), 0);
    assert_int_equal(peImageBase32(d, 0x20), 0);
}

/* The PE32 layout shared by several tests: descriptors at 0x200. */
static void pe32Two(unsigned char *d) {
    peHeader(d, 0x14c, 0x10b, 0x200);
    desc(d, 0x200, 0x280, 0x300, 0x2C0);
    desc(d, 0x214, 0x290, 0x310, 0x2D0);
    fxPut32(d, 0x280, 0x320); /* by name: hint at 0x320, "Foo" at 0x322 */
    fxPut32(d, 0x284, 0x330);
    fxPut32(d, 0x290, 0x80000010); /* by ordinal */
    memcpy(d + 0x300, "a.dll", 5);
    memcpy(d + 0x310, "b.dll", 5);
    memcpy(d + 0x322, "Foo", 3);
    memcpy(d + 0x332, "Bar", 3);
}

static void test_pe32_two_descriptors(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    pe32Two(d);
    const uint64_t slots[] = {0x2C0, 0x2C4, 0x2D0};
    expectSlots(d, LEN, slots, 3);
    /* No MZ / PE signature is checked: there is none in d. */
    assert_int_equal(d[0], 0);
}

static void test_pe32plus_two_descriptors(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    peHeader(d, 0x8664, 0x20b, 0x200);
    desc(d, 0x200, 0x280, 0x300, 0x2C0);
    desc(d, 0x214, 0x2A0, 0x310, 0x2E0);
    fxPut64(d, 0x280, 0x320);
    fxPut64(d, 0x288, 0x0000000080000005ULL); /* bit 31 of the low dword: ordinal */
    fxPut64(d, 0x2A0, 0x330);
    const uint64_t slots[] = {0x2C0, 0x2C8, 0x2E0};
    expectSlots(d, LEN, slots, 3);
    /* The real PE32+ ordinal flag is bit 63; the reference ignores it and
     * takes the low dword 0x00FFFFF0 as a name RVA past the end, which ends
     * the parse in the second descriptor. */
    fxPut64(d, 0x2A0, 0x8000000000FFFFF0ULL);
    const uint64_t first[] = {0x2C0, 0x2C8};
    expectSlots(d, LEN, first, 2);
    /* Machine 0x14c with the PE32+ magic is still read as PE32+ (8-byte
     * thunks, directory at 0x110). */
    fxPut64(d, 0x2A0, 0x330);
    fxPut16(d, 0x84, 0x14c);
    expectSlots(d, LEN, slots, 3);
}

static void test_ordinal_needs_no_name(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    pe32Two(d);
    fxPut32(d, 0x290, 0x80FFFFFF); /* ordinal; 0xFFFFFF would be far past the end */
    const uint64_t slots[] = {0x2C0, 0x2C4, 0x2D0};
    expectSlots(d, LEN, slots, 3);
}

static void test_dll_name_past_end(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    pe32Two(d);
    desc(d, 0x228, 0x298, 0x310, 0x2E0); /* a third descriptor */
    fxPut32(d, 0x298, 0x80000001);
    const uint64_t all[] = {0x2C0, 0x2C4, 0x2D0, 0x2E0};
    expectSlots(d, LEN, all, 4);
    /* Name of the last byte: readable. */
    fxPut32(d, 0x214 + 12, LEN - 1);
    expectSlots(d, LEN, all, 4);
    /* Name one past the end: the parse ends in descriptor 1, so descriptor 2
     * is lost as well; descriptor 0 is kept. */
    fxPut32(d, 0x214 + 12, LEN);
    const uint64_t first[] = {0x2C0, 0x2C4};
    expectSlots(d, LEN, first, 2);
    /* In descriptor 0: nothing at all. */
    fxPut32(d, 0x214 + 12, 0x310);
    fxPut32(d, 0x200 + 12, 0xFFFFFFFF);
    expectSlots(d, LEN, NULL, 0);
}

static void test_hint_name_boundary(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    peHeader(d, 0x14c, 0x10b, 0x200);
    desc(d, 0x200, 0x280, 0x300, 0x2C0);
    /* Hint at LEN-3, name's first byte at LEN-1: both inside. */
    fxPut32(d, 0x280, LEN - 3);
    const uint64_t one[] = {0x2C0};
    expectSlots(d, LEN, one, 1);
    /* Hint at LEN-2: the name at LEN is past the end. */
    fxPut32(d, 0x280, LEN - 2);
    expectSlots(d, LEN, NULL, 0);
}

static void test_thunk_run_reaching_end(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    pe32Two(d);
    desc(d, 0x228, 0x298, 0x310, 0x2E0);
    fxPut32(d, 0x298, 0x80000001);
    /* Descriptor 1's thunks now start at 0x3F0 and are non-zero to the end. */
    fxPut32(d, 0x214, 0x3F0);
    for (size_t o = 0x3F0; o < LEN; o += 4)
        fxPut32(d, o, 0x80000001);
    const uint64_t first[] = {0x2C0, 0x2C4};
    expectSlots(d, LEN, first, 2);
    /* A thunk cut by the end of the dump is just as fatal. */
    fxPut32(d, 0x214, LEN - 2);
    expectSlots(d, LEN, first, 2);
}

static void test_descriptor_table_cut(void **state) {
    (void)state;
    /* One full descriptor in the last 30 bytes, then 10 bytes: the second
     * read fails, the first descriptor is complete and kept. */
    unsigned char d[LEN] = {0};
    peHeader(d, 0x14c, 0x10b, LEN - 30);
    desc(d, LEN - 30, 0x280, 0x300, 0x2C0);
    fxPut32(d, 0x280, 0x80000001);
    fxPut32(d, LEN - 10 + 0, 0x280); /* a partial second descriptor */
    const uint64_t one[] = {0x2C0};
    expectSlots(d, LEN, one, 1);
}

static void test_overlapping_runs(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    peHeader(d, 0x14c, 0x10b, 0x200);
    /* Same OFT twice, and OFT + 4: counts 3, 3, 2. */
    desc(d, 0x200, 0x280, 0x300, 0x2C0);
    desc(d, 0x214, 0x280, 0x300, 0x2D0);
    desc(d, 0x228, 0x284, 0x300, 0x2E0);
    fxPut32(d, 0x280, 0x80000001);
    fxPut32(d, 0x284, 0x80000002);
    fxPut32(d, 0x288, 0x80000003);
    const uint64_t s1[] = {0x2C0, 0x2C4, 0x2C8, 0x2D0, 0x2D4, 0x2D8, 0x2E0, 0x2E4};
    expectSlots(d, LEN, s1, 8);
    /* Listed the other way round (the later start first): counts 2 and 3. */
    memset(d + 0x200, 0, 0x3C);
    desc(d, 0x200, 0x284, 0x300, 0x2C0);
    desc(d, 0x214, 0x280, 0x300, 0x2D0);
    const uint64_t s2[] = {0x2C0, 0x2C4, 0x2D0, 0x2D4, 0x2D8};
    expectSlots(d, LEN, s2, 5);
    /* A zero thunk between two starts: each run ends on its own zero. */
    fxPut32(d, 0x288, 0);
    fxPut32(d, 0x28C, 0x80000004);
    desc(d, 0x214, 0x28C, 0x300, 0x2D0);
    desc(d, 0x228, 0x280, 0x300, 0x2E0);
    /* 0x284: [2, 0] -> 1; 0x28C: [4, 0] -> 1; 0x280: [1, 2, 0] -> 2. */
    const uint64_t s3[] = {0x2C0, 0x2D0, 0x2E0, 0x2E4};
    expectSlots(d, LEN, s3, 4);
    /* Unaligned OFT (residue 2) beside an aligned one. */
    memset(d + 0x200, 0, 0x3C);
    memset(d + 0x280, 0, 0x20);
    desc(d, 0x200, 0x280, 0x300, 0x2C0);
    desc(d, 0x214, 0x28A, 0x300, 0x2D0);
    fxPut32(d, 0x280, 0x80000001);
    fxPut32(d, 0x28A, 0x80000002);
    fxPut32(d, 0x28E, 0x80000003);
    const uint64_t s4[] = {0x2C0, 0x2D0, 0x2D4};
    expectSlots(d, LEN, s4, 3);
}

static void test_shared_failing_suffix(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    peHeader(d, 0x14c, 0x10b, 0x200);
    desc(d, 0x200, 0x280, 0x300, 0x2C0); /* [1, 0]: fine */
    desc(d, 0x214, 0x300, 0x300, 0x2D0); /* 0x300.. non-zero to the end */
    desc(d, 0x228, 0x304, 0x300, 0x2E0); /* shares that run */
    fxPut32(d, 0x280, 0x80000001);
    for (size_t o = 0x300; o < LEN; o += 4)
        fxPut32(d, o, 0x80000001);
    const uint64_t first[] = {0x2C0};
    expectSlots(d, LEN, first, 1);
    /* The failing runs first: nothing survives. */
    memset(d + 0x200, 0, 0x3C);
    desc(d, 0x200, 0x304, 0x2F0, 0x2E0);
    desc(d, 0x214, 0x280, 0x2F0, 0x2C0);
    expectSlots(d, LEN, NULL, 0);
}

static void test_first_thunk_merge_and_residue(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    peHeader(d, 0x14c, 0x10b, 0x200);
    desc(d, 0x200, 0x280, 0x300, 0x2C0);
    desc(d, 0x214, 0x280, 0x300, 0x2C4); /* overlaps the first run's slots */
    desc(d, 0x228, 0x290, 0x300, 0x2E2); /* FirstThunk with residue 2 */
    desc(d, 0x23C, 0x2A0, 0x300, 0x2F0); /* OFT at a zero thunk: no slot */
    fxPut32(d, 0x280, 0x80000001);
    fxPut32(d, 0x284, 0x80000002);
    fxPut32(d, 0x288, 0x80000003);
    fxPut32(d, 0x290, 0x80000001);
    fxPut32(d, 0x294, 0x80000001);
    const uint64_t slots[] = {0x2C0, 0x2C4, 0x2C8, 0x2CC, 0x2E2, 0x2E6};
    expectSlots(d, LEN, slots, 6);
    /* Only empty descriptors: no slot at all is null, not "all false". */
    memset(d + 0x200, 0, 0x50);
    desc(d, 0x200, 0x2A0, 0x300, 0x2C0);
    expectSlots(d, LEN, NULL, 0);
}

static void test_no_import_table(void **state) {
    (void)state;
    unsigned char d[LEN] = {0};
    pe32Two(d);
    unsigned char e[LEN];
    memcpy(e, d, LEN);
    fxPut32(e, 0x100, 0); /* no directory */
    expectSlots(e, LEN, NULL, 0);
    memcpy(e, d, LEN);
    fxPut32(e, 0x100, LEN); /* directory past the end */
    expectSlots(e, LEN, NULL, 0);
    memcpy(e, d, LEN);
    fxPut16(e, 0x84, 0x1c0); /* ARM: not 0x14c / 0x8664 */
    expectSlots(e, LEN, NULL, 0);
    memcpy(e, d, LEN);
    fxPut16(e, 0x3c, 0); /* e_lfanew 0 */
    expectSlots(e, LEN, NULL, 0);
    memcpy(e, d, LEN);
    fxPut16(e, 0x3c, 0xFFF0); /* e_lfanew past the end */
    expectSlots(e, LEN, NULL, 0);
    /* Machine readable but the directory entry cut off. */
    expectSlots(d, 0x102, NULL, 0);
    /* Dumps shorter than 0x40, down to empty. */
    for (size_t n = 0; n < 0x40; n++)
        expectSlots(d, n, NULL, 0);
    pe_imports imp;
    assert_int_equal(peImportsParse(NULL, 0, &imp, NULL, 0), AV_OK);
    assert_int_equal(peImportsIsSlot(&imp, 0), -1);
    peImportsFree(&imp);
}

/* The README's import parse, transcribed step by step with no attempt at
 * speed: descriptors in order, each one's thunks walked from its own start,
 * a failed read ending everything, a descriptor's slots kept only when its
 * walk completed. Slots go into `slot` (a byte per offset). Returns 1 when
 * at least one slot was found. */
static int naiveRead(const unsigned char *d, size_t len, uint64_t off, unsigned n, uint64_t *v) {
    if (off + n > len)
        return 0;
    *v = 0;
    for (unsigned i = 0; i < n; i++)
        *v |= (uint64_t)d[off + i] << (8 * i);
    return 1;
}

static int naiveImports(const unsigned char *d, size_t len, unsigned char *slot) {
    uint64_t pe, machine, magic, rva;
    if (len < 0x40 || !naiveRead(d, len, 0x3c, 2, &pe) || pe == 0 ||
        !naiveRead(d, len, pe + 4, 2, &machine) || (machine != 0x14c && machine != 0x8664))
        return 0;
    unsigned size = naiveRead(d, len, pe + 0x18, 2, &magic) && magic == 0x20b ? 8 : 4;
    if (!naiveRead(d, len, pe + 0x80 + (size == 8 ? 0x10 : 0), 4, &rva) || rva == 0)
        return 0;
    int found = 0;
    for (uint64_t k = 0;; k++) {
        uint64_t at = rva + 20 * k, oft = 0, name = 0, ft = 0, thunk, hint;
        if (at + 20 > len)
            return found;
        naiveRead(d, len, at, 4, &oft);
        naiveRead(d, len, at + 12, 4, &name);
        naiveRead(d, len, at + 16, 4, &ft);
        if (name >= len || ft == 0)
            return found;
        uint64_t count = 0;
        for (;; count++) {
            if (!naiveRead(d, len, oft + count * size, size, &thunk))
                return found;
            if (thunk == 0)
                break;
            uint32_t t = (uint32_t)thunk;
            if (!(t & 0x80000000u) && (!naiveRead(d, len, t, 2, &hint) || t + 2 >= len))
                return found;
        }
        for (uint64_t i = 0; i < count; i++) {
            slot[ft + i * size] = 1; /* < 0x1600 with the caller's values */
            found = 1;
        }
    }
}

static void test_random_against_rule(void **state) {
    (void)state;
    uint64_t seed = 0xBADC0DE;
    /* FirstThunk < 0xF40 plus at most 0x600 bytes of thunks: slots < 0x1600. */
    static unsigned char d[0x600], slot[0x1600 + 64];
    int with_table = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0x180 + (size_t)(fxRand(&seed) % 0x480);
        memset(d, 0, sizeof(d));
        unsigned wide = fxRand(&seed) % 2;
        uint16_t machine = fxRand(&seed) % 8 ? (wide ? 0x8664 : 0x14c) : 0x1c0;
        peHeader(d, machine, wide ? 0x20b : 0x10b, 0);
        uint32_t rva = 0x140 + (uint32_t)(fxRand(&seed) % (len - 0x140));
        fxPut32(d, wide ? 0x110 : 0x100, rva);
        /* Thunk values: zeros, ordinals, names inside and just past the end;
         * PE32+ thunks get a random high dword (ignored by the reference). */
        unsigned size = wide ? 8 : 4;
        for (size_t o = 0x140; o + size <= len; o += size) {
            uint64_t r = fxRand(&seed) % 20;
            uint32_t v = r < 8    ? 0
                         : r < 14 ? 0x80000000u | (uint32_t)fxRand(&seed)
                         : r < 19 ? (uint32_t)(fxRand(&seed) % (len - 2))
                                  : (uint32_t)(len - 3 + fxRand(&seed) % 4);
            uint64_t high = wide && v && fxRand(&seed) % 2 ? fxRand(&seed) << 32 : 0;
            if (wide)
                fxPut64(d, o, v | high);
            else
                fxPut32(d, o, v);
        }
        /* Descriptors over that noise: OFTs anywhere in the thunk area,
         * mostly aligned, FTs of any alignment, names mostly inside. */
        unsigned nd = (unsigned)(fxRand(&seed) % 7);
        for (unsigned k = 0; k < nd && rva + 20 * (k + 1) <= len; k++) {
            uint32_t oft = 0x140 + (uint32_t)(fxRand(&seed) % (len - 0x140));
            if (fxRand(&seed) % 4) /* mostly on a thunk boundary */
                oft -= (oft - 0x140) % size;
            uint32_t name = fxRand(&seed) % 20 ? (uint32_t)(fxRand(&seed) % len) : (uint32_t)len;
            uint32_t ft = 0x40 + (uint32_t)(fxRand(&seed) % 0xF00);
            desc(d, rva + 20 * k, oft, name, ft);
        }
        if (rva + 20 * (nd + 1) <= len)
            memset(d + rva + 20 * nd, 0, 20);
        memset(slot, 0, sizeof(slot));
        int found = naiveImports(d, len, slot);
        with_table += found;
        pe_imports imp;
        assert_int_equal(peImportsParse(d, len, &imp, NULL, 0), AV_OK);
        for (uint64_t o = 0; o < sizeof(slot); o++) {
            int want = found ? slot[o] : -1, got = peImportsIsSlot(&imp, o);
            if (got != want)
                fail_msg("iteration %d (len 0x%zx, %s): offset 0x%llx is %d, expected %d", iter,
                         len, wide ? "PE32+" : "PE32", (unsigned long long)o, got, want);
        }
        peImportsFree(&imp);
    }
    /* The comparison is only meaningful if many dumps had slots. */
    if (with_table < 600)
        fail_msg("only %d of 3000 random dumps had an import slot", with_table);
}

/* Many descriptors whose thunk runs overlap and never end: the parse must
 * stay linear (a naive walk would read 20000 runs of up to a million
 * thunks) and end with no slot, since descriptor 0 fails. Then a zero thunk
 * in the last 4 bytes makes every run end. */
static void test_never_ending_runs(void **state) {
    (void)state;
    const size_t len = 4u << 20, n = 20000, area = 0x70000;
    unsigned char *d = calloc(1, len);
    assert_non_null(d);
    peHeader(d, 0x14c, 0x10b, 0x1000);
    for (size_t k = 0; k < n; k++)
        desc(d, 0x1000 + 20 * k, (uint32_t)(area + 40 * k), 0x40, (uint32_t)area);
    for (size_t o = area; o < len; o += 4)
        fxPut32(d, o, 0x80000001);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pe_imports imp;
    assert_int_equal(peImportsParse(d, len, &imp, NULL, 0), AV_OK);
    assert_int_equal(peImportsIsSlot(&imp, area), -1);
    peImportsFree(&imp);
    fxPut32(d, len - 4, 0);
    assert_int_equal(peImportsParse(d, len, &imp, NULL, 0), AV_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* Descriptor 0 runs from `area` to the zero at len-4: its slots are
     * area .. len-8, and every other run is a suffix of it. */
    assert_int_equal(peImportsIsSlot(&imp, area), 1);
    assert_int_equal(peImportsIsSlot(&imp, len - 8), 1);
    assert_int_equal(peImportsIsSlot(&imp, len - 4), 0);
    assert_int_equal(peImportsIsSlot(&imp, area + 2), 0);
    assert_int_equal(peImportsIsSlot(&imp, area - 4), 0);
    peImportsFree(&imp);
    free(d);
    if (secs > 10.0)
        fail_msg("two parses took %.1f s: not linear", secs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pe_offset_and_base),
        cmocka_unit_test(test_pe32_two_descriptors),
        cmocka_unit_test(test_pe32plus_two_descriptors),
        cmocka_unit_test(test_ordinal_needs_no_name),
        cmocka_unit_test(test_dll_name_past_end),
        cmocka_unit_test(test_hint_name_boundary),
        cmocka_unit_test(test_thunk_run_reaching_end),
        cmocka_unit_test(test_descriptor_table_cut),
        cmocka_unit_test(test_overlapping_runs),
        cmocka_unit_test(test_shared_failing_suffix),
        cmocka_unit_test(test_first_thunk_merge_and_residue),
        cmocka_unit_test(test_no_import_table),
        cmocka_unit_test(test_random_against_rule),
        cmocka_unit_test(test_never_ending_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
