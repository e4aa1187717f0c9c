/*
 * test_collection.c - unit tests of ApiVector collection parsing.
 *
 * Collections are written inline with vectors whose bits are known by hand
 * ("gA170" = bit 0, "BA170" = bit 5, "AgA169" = bit 6, "A171" = none; see
 * test_vector.c for the derivation). Entries must come grouped by family,
 * families and samples in order of first appearance, a repeated (family,
 * sample) replacing the vector in place; only the sample and vector fields
 * are trimmed, as in the reference; blank and '#' lines are skipped; a bad
 * line is skipped with a warning "source:LINE: reason". A generated
 * collection of thousands of lines is checked against a plain model of those
 * rules.
 */
#include "engine_fixtures.h"

#include "collection.h"

static collection *parse(const char *text, size_t len) {
    collection *c = NULL;
    char err[AV_ERRLEN] = "";
    assert_int_equal(collectionParse(text, len, "coll.csv", &c, err, sizeof(err)), AV_OK);
    assert_non_null(c);
    return c;
}

static void expectEntry(const collection *c, size_t i, const char *family, const char *sample,
                        int bit, uint32_t weight) {
    const collection_entry *e = &collectionEntries(c)[i];
    assert_string_equal(collectionFamily(c, e->family), family);
    assert_string_equal(e->sample, sample);
    assert_int_equal(vectorPopcount(&e->vector), bit < 0 ? 0 : 1);
    if (bit >= 0)
        assert_true(vectorTest(&e->vector, (unsigned)bit));
    assert_int_equal(e->weight, weight);
}

static void test_order_and_replacement(void **state) {
    (void)state;
    const char *text = "fam1;s1;1;1;gA170\n"      /* 1 */
                       "fam2;s1;0;0;A171\n"       /* 2: same sample, other family */
                       "\n"                       /* 3 */
                       "# comment;a;b;c;A171\n"   /* 4 */
                       "fam1;s2;1;1;BA170\n"      /* 5 */
                       "fam1;s1;1;1;AgA169\n"     /* 6: replaces line 1 in place */
                       "fam3;bad;1;1\n"           /* 7: 4 fields */
                       "fam3;bad2;1;1;A170!\n"    /* 8: bad vector */
                       "   # indented comment\n"  /* 9 */
                       "fam2;s3;2;2; BA170 \r\n"  /* 10: vector trimmed */
                       "fam1; s2 ;1;1;AgA169\t\n" /* 11: sample trimmed: replaces s2 */
                       " fam1;s9;1;1;A171";       /* 12: family not trimmed, no newline */
    collection *c = parse(text, strlen(text));
    /* Families: fam1, fam2, " fam1" (fam3 only had bad lines). */
    assert_int_equal(collectionFamilyCount(c), 3);
    assert_int_equal(collectionSize(c), 5);
    /* Weights: rank of bit 6 = 1017, bit 5 = 1018. */
    expectEntry(c, 0, "fam1", "s1", 6, 1017);
    expectEntry(c, 1, "fam1", "s2", 6, 1017);
    expectEntry(c, 2, "fam2", "s1", -1, 0);
    expectEntry(c, 3, "fam2", "s3", 5, 1018);
    expectEntry(c, 4, " fam1", "s9", -1, 0);
    assert_int_equal(collectionWarningCount(c), 2);
    assert_string_equal(collectionWarning(c, 0),
                        "coll.csv:7: expected family;sample;in;num;vector, skipped");
    assert_non_null(strstr(collectionWarning(c, 1),
                           "coll.csv:8: vector: invalid character 0x21 at position 4"));
    assert_null(collectionWarning(c, 2));
    assert_true(collectionFootprint(c) > 0);
    collectionFree(c);
}

static void test_family_grouping(void **state) {
    (void)state;
    /* Interleaved families: entries come grouped, in first-appearance order. */
    const char *text = "b;1;;;gA170\n"
                       "a;1;;;BA170\n"
                       "b;2;;;AgA169\n"
                       "c;1;;;A171\n"
                       "a;2;;;gA170\n"
                       "b;1;;;BA170\n"; /* replaces b/1, which stays first */
    collection *c = parse(text, strlen(text));
    assert_int_equal(collectionFamilyCount(c), 3);
    assert_int_equal(collectionSize(c), 6 - 1);
    expectEntry(c, 0, "b", "1", 5, 1018);
    expectEntry(c, 1, "b", "2", 6, 1017);
    expectEntry(c, 2, "a", "1", 5, 1018);
    expectEntry(c, 3, "a", "2", 0, 1023);
    expectEntry(c, 4, "c", "1", -1, 0);
    assert_string_equal(collectionFamily(c, 0), "b");
    assert_string_equal(collectionFamily(c, 1), "a");
    assert_string_equal(collectionFamily(c, 2), "c");
    assert_int_equal(collectionWarningCount(c), 0);
    collectionFree(c);
}

static void test_crlf_and_extra_fields(void **state) {
    (void)state;
    const char *text = "f;s;1;1;gA170\r\n"
                       "\r\n"
                       "f;t;1;1;BA170;extra;fields\r\n"
                       "g;u;1;1;AgA169\r\n";
    collection *c = parse(text, strlen(text));
    assert_int_equal(collectionSize(c), 3);
    expectEntry(c, 0, "f", "s", 0, 1023);
    expectEntry(c, 1, "f", "t", 5, 1018);
    expectEntry(c, 2, "g", "u", 6, 1017);
    assert_int_equal(collectionWarningCount(c), 0);
    collectionFree(c);
}

static void test_empty_inputs(void **state) {
    (void)state;
    const char *texts[] = {"", "\n", "\n\n\r\n", "# only a comment\n", "  \t \n# x\n"};
    for (size_t i = 0; i < 5; i++) {
        collection *c = parse(texts[i], strlen(texts[i]));
        assert_int_equal(collectionSize(c), 0);
        assert_int_equal(collectionFamilyCount(c), 0);
        assert_int_equal(collectionWarningCount(c), 0);
        collectionFree(c);
    }
    collection *c = parse(NULL, 0);
    assert_int_equal(collectionSize(c), 0);
    collectionFree(c);
}

static void test_bad_lines(void **state) {
    (void)state;
    const char *text = "a;b;c\n"          /* 1: 3 fields */
                       "a;b;c;d;\n"       /* 2: empty vector */
                       "a;b;c;d;A170\n"   /* 3: too short */
                       "a;b;c;d;A172\n"   /* 4: overflow */
                       "ok;1;;;A171\n"    /* 5: fine */
                       "x\n"              /* 6: 1 field */
                       "a;b;c;d;1A171\n"; /* 7: digit first */
    collection *c = parse(text, strlen(text));
    assert_int_equal(collectionSize(c), 1);
    expectEntry(c, 0, "ok", "1", -1, 0);
    assert_int_equal(collectionWarningCount(c), 6);
    const char *want[] = {"coll.csv:1: expected",
                          "coll.csv:2: vector: 0 symbols",
                          "coll.csv:3: vector: 170 symbols",
                          "coll.csv:4: vector: run at",
                          "coll.csv:6: expected",
                          "coll.csv:7: vector: invalid character 0x31"};
    for (size_t i = 0; i < 6; i++)
        if (!strstr(collectionWarning(c, i), want[i]))
            fail_msg("warning %zu \"%s\" lacks \"%s\"", i, collectionWarning(c, i), want[i]);
    collectionFree(c);
}

static void test_warning_cap(void **state) {
    (void)state;
    fx_buf b = {0};
    for (int i = 0; i < 150; i++)
        fxAppendf(&b, "bad line %d\n", i);
    fxAppendf(&b, "f;s;;;A171\n");
    collection *c = parse(b.p, b.len);
    assert_int_equal(collectionSize(c), 1);
    assert_int_equal(collectionWarningCount(c), 150);
    assert_non_null(strstr(collectionWarning(c, 0), "coll.csv:1:"));
    assert_non_null(strstr(collectionWarning(c, 99), "coll.csv:100:"));
    assert_null(collectionWarning(c, 100));
    assert_null(collectionWarning(c, 149));
    collectionFree(c);
    free(b.p);
}

/* BUG (reported to the lead): a NUL byte inside a family or sample field is
 * compared with strlen() in one place and by length in another, so the
 * names are cut at the NUL, the same family shows up twice and a repeated
 * (family, sample) no longer replaces its vector. Expected: the collection
 * never shows two families of the same name or two entries with the same
 * (family, sample), and such lines are reported as warnings. */
static void test_nul_bytes_rejected(void **state) {
    (void)state;
    const char text[] = "fa\0m;s;;;A171\n"
                        "fa\0m;s;;;gA170\n"
                        "ok;s\0x;;;A171\n"
                        "ok;s\0x;;;BA170\n"
                        "ok;t;;;AgA169\n";
    collection *c = parse(text, sizeof(text) - 1);
    size_t nf = collectionFamilyCount(c), n = collectionSize(c);
    char problem[256] = "";
    for (uint32_t a = 0; a < nf && !problem[0]; a++)
        for (uint32_t b = a + 1; b < nf && !problem[0]; b++)
            if (strcmp(collectionFamily(c, a), collectionFamily(c, b)) == 0)
                snprintf(problem, sizeof(problem), "families %u and %u are both \"%s\"", a, b,
                         collectionFamily(c, a));
    const collection_entry *e = collectionEntries(c);
    for (size_t i = 0; i < n && !problem[0]; i++)
        for (size_t j = i + 1; j < n && !problem[0]; j++)
            if (e[i].family == e[j].family && strcmp(e[i].sample, e[j].sample) == 0)
                snprintf(problem, sizeof(problem), "entries %zu and %zu are both %s/%s", i, j,
                         collectionFamily(c, e[i].family), e[i].sample);
    if (!problem[0] && collectionWarningCount(c) == 0)
        snprintf(problem, sizeof(problem), "no warning for the lines with NUL bytes");
    collectionFree(c);
    if (problem[0])
        fail_msg("%s", problem);
}

/* The model: families and samples in first-appearance order, last bit wins. */
#define NF 37
#define NS 300

static void test_large_against_model(void **state) {
    (void)state;
    static int sample_bit[NF][NS];
    static int sample_order[NF][NS]; /* first-appearance rank within the family, or -1 */
    int fam_order[NF], nfam = 0, nsamples[NF] = {0};
    memset(sample_order, -1, sizeof(sample_order));
    for (int f = 0; f < NF; f++)
        fam_order[f] = -1;
    fx_buf b = {0};
    uint64_t seed = 7;
    for (int line = 0; line < 8000; line++) {
        int f = (int)(fxRand(&seed) % NF), s = (int)(fxRand(&seed) % NS);
        int bit = (int)(fxRand(&seed) % 171); /* bit 6 * symbol: vector "A<j>gA<170-j>" */
        if (bit == 0)
            fxAppendf(&b, "fam%d;smp%d;0;0;gA170\n", f, s);
        else if (bit == 170)
            fxAppendf(&b, "fam%d;smp%d;0;0;A170g\n", f, s);
        else
            fxAppendf(&b, "fam%d;smp%d;0;0;A%dgA%d\n", f, s, bit, 170 - bit);
        if (fam_order[f] < 0)
            fam_order[f] = nfam++;
        if (sample_order[f][s] < 0)
            sample_order[f][s] = nsamples[f]++;
        sample_bit[f][s] = 6 * bit;
    }
    collection *c = parse(b.p, b.len);
    free(b.p);
    assert_int_equal(collectionFamilyCount(c), (size_t)nfam);
    assert_int_equal(collectionWarningCount(c), 0);
    size_t i = 0;
    for (int rank = 0; rank < nfam; rank++) {
        int f = 0;
        while (fam_order[f] != rank)
            f++;
        for (int k = 0; k < nsamples[f]; k++, i++) {
            int s = 0;
            while (sample_order[f][s] != k)
                s++;
            char fam[16], smp[16];
            snprintf(fam, sizeof(fam), "fam%d", f);
            snprintf(smp, sizeof(smp), "smp%d", s);
            assert_true(i < collectionSize(c));
            expectEntry(c, i, fam, smp, sample_bit[f][s], 1023 - (uint32_t)sample_bit[f][s]);
        }
    }
    assert_int_equal(collectionSize(c), i);
    collectionFree(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_replacement),
        cmocka_unit_test(test_family_grouping),
        cmocka_unit_test(test_crlf_and_extra_fields),
        cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_warning_cap),
        cmocka_unit_test(test_large_against_model),
        cmocka_unit_test(test_nul_bytes_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
