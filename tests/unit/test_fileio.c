/*
 * test_fileio.c - unit tests of local file reading and mapping.
 *
 * A scratch folder made by the group setup holds files of chosen sizes
 * around the reader's 64 KiB growth step (0, 11, 65536, 65537 and 200000
 * bytes, the 11-byte one with a NUL inside), and a folder. Each test checks
 * contents byte for byte, the size limit on both sides of the boundary, and
 * that failures carry the right status and name the path and the reason.
 * stdin ("-") is exercised by pointing descriptor 0 at a file.
 */
#include "engine_fixtures.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

typedef struct fixture {
    char dir[64];
    char small[128], empty[128], exact[128], big[128], huge[128], sub[128], missing[128];
    unsigned char *pattern; /* 200000 bytes: the content of exact/big/huge prefixes */
} fixture;

static const char SMALL[11] = "hello\0world";

static void writeFile(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/fileio-ut.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->small, sizeof(fx->small), "%s/small", fx->dir);
    snprintf(fx->empty, sizeof(fx->empty), "%s/empty", fx->dir);
    snprintf(fx->exact, sizeof(fx->exact), "%s/exact", fx->dir);
    snprintf(fx->big, sizeof(fx->big), "%s/big", fx->dir);
    snprintf(fx->huge, sizeof(fx->huge), "%s/huge", fx->dir);
    snprintf(fx->sub, sizeof(fx->sub), "%s/sub", fx->dir);
    snprintf(fx->missing, sizeof(fx->missing), "%s/missing", fx->dir);
    fx->pattern = malloc(200000);
    assert_non_null(fx->pattern);
    for (size_t i = 0; i < 200000; i++)
        fx->pattern[i] = (unsigned char)(i * 131 + (i >> 9));
    writeFile(fx->small, SMALL, sizeof(SMALL));
    writeFile(fx->empty, "", 0);
    writeFile(fx->exact, fx->pattern, 65536);
    writeFile(fx->big, fx->pattern, 65537);
    writeFile(fx->huge, fx->pattern, 200000);
    assert_int_equal(mkdir(fx->sub, 0700), 0);
    *state = fx;
    return 0;
}

static int removeEntry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state) {
    fixture *fx = *state;
    nftw(fx->dir, removeEntry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx->pattern);
    free(fx);
    return 0;
}

static void readOk(const char *path, size_t max, const void *want, size_t want_len) {
    char *buf = NULL;
    size_t len = 99;
    char err[AV_ERRLEN] = "";
    av_status st = fileRead(path, max, &buf, &len, err, sizeof(err));
    if (st != AV_OK)
        fail_msg("%s: %s", path, err);
    assert_int_equal(len, want_len);
    if (want_len)
        assert_memory_equal(buf, want, want_len);
    assert_int_equal(buf[len], '\0');
    free(buf);
}

static void readFails(const char *path, size_t max, av_status expected, const char *needle) {
    char *buf = (char *)&max;
    size_t len = 99;
    char err[AV_ERRLEN] = "";
    fx_assert_err(fileRead(path, max, &buf, &len, err, sizeof(err)), expected, err, needle);
    assert_null(buf);
    assert_int_equal(len, 0);
}

static void test_read(void **state) {
    fixture *fx = *state;
    readOk(fx->small, 1000, SMALL, sizeof(SMALL));
    readOk(fx->empty, 1000, "", 0);
    readOk(fx->empty, 0, "", 0);
    readOk(fx->exact, 65536, fx->pattern, 65536);
    readOk(fx->big, 200000, fx->pattern, 65537);
    readOk(fx->huge, 200000, fx->pattern, 200000);
}

static void test_read_limits(void **state) {
    fixture *fx = *state;
    char want[256];
    readOk(fx->small, 11, SMALL, 11);
    snprintf(want, sizeof(want), "%s: larger than 10 bytes", fx->small);
    readFails(fx->small, 10, AV_ERR_LIMIT, want);
    snprintf(want, sizeof(want), "%s: larger than 65536 bytes", fx->big);
    readFails(fx->big, 65536, AV_ERR_LIMIT, want);
    readFails(fx->huge, 150000, AV_ERR_LIMIT, "larger than 150000 bytes");
    readFails(fx->huge, 199999, AV_ERR_LIMIT, "larger than 199999 bytes");
    readFails(fx->small, 0, AV_ERR_LIMIT, "larger than 0 bytes");
}

static void test_read_errors(void **state) {
    fixture *fx = *state;
    char want[256];
    snprintf(want, sizeof(want), "%s: %s", fx->missing, strerror(ENOENT));
    readFails(fx->missing, 1000, AV_ERR_IO, want);
    snprintf(want, sizeof(want), "%s: read: %s", fx->sub, strerror(EISDIR));
    readFails(fx->sub, 1000, AV_ERR_IO, want);
    /* A NULL message buffer is allowed. */
    char *buf = NULL;
    size_t len;
    assert_int_equal(fileRead(fx->missing, 10, &buf, &len, NULL, 0), AV_ERR_IO);
}

static void test_map(void **state) {
    fixture *fx = *state;
    file_map m;
    char err[AV_ERRLEN] = "";
    assert_int_equal(fileMap(fx->small, 11, &m, err, sizeof(err)), AV_OK);
    assert_int_equal(m.len, 11);
    assert_memory_equal(m.data, SMALL, 11);
    assert_null(m.heap);
    fileUnmap(&m);
    assert_null(m.data);
    assert_int_equal(m.len, 0);
    assert_int_equal(fileMap(fx->huge, 200000, &m, err, sizeof(err)), AV_OK);
    assert_int_equal(m.len, 200000);
    assert_memory_equal(m.data, fx->pattern, 200000);
    fileUnmap(&m);
    /* An empty file maps to no data at all. */
    assert_int_equal(fileMap(fx->empty, 100, &m, err, sizeof(err)), AV_OK);
    assert_null(m.data);
    assert_int_equal(m.len, 0);
    fileUnmap(&m);
}

static void mapFails(const char *path, size_t max, av_status expected, const char *needle) {
    file_map m;
    char err[AV_ERRLEN] = "";
    fx_assert_err(fileMap(path, max, &m, err, sizeof(err)), expected, err, needle);
    assert_null(m.data);
}

static void test_map_errors(void **state) {
    fixture *fx = *state;
    char want[256];
    snprintf(want, sizeof(want), "%s: 11 bytes, limit 10", fx->small);
    mapFails(fx->small, 10, AV_ERR_LIMIT, want);
    snprintf(want, sizeof(want), "%s: %s", fx->missing, strerror(ENOENT));
    mapFails(fx->missing, 10, AV_ERR_IO, want);
    snprintf(want, sizeof(want), "%s: not a regular file", fx->sub);
    mapFails(fx->sub, 10, AV_ERR_IO, want);
    mapFails("/dev/null", 10, AV_ERR_IO, "/dev/null: not a regular file");
}

/* Runs fn with descriptor 0 reading `path`, then restores stdin. */
static void withStdin(const char *path, void (*fn)(void *), void *ctx) {
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    fn(ctx);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
}

static void stdinRead(void *ctx) {
    (void)ctx;
    readOk("-", 100, SMALL, sizeof(SMALL));
}

static void stdinLimit(void *ctx) {
    (void)ctx;
    readFails("-", 5, AV_ERR_LIMIT, "<stdin>: larger than 5 bytes");
}

static void stdinMap(void *ctx) {
    const fixture *fx = ctx;
    file_map m;
    char err[AV_ERRLEN] = "";
    assert_int_equal(fileMap("-", 200000, &m, err, sizeof(err)), AV_OK);
    assert_non_null(m.heap);
    assert_ptr_equal(m.data, m.heap);
    assert_int_equal(m.len, 65537);
    assert_memory_equal(m.data, fx->pattern, 65537);
    fileUnmap(&m);
    assert_null(m.heap);
}

static void test_stdin(void **state) {
    fixture *fx = *state;
    withStdin(fx->small, stdinRead, NULL);
    withStdin(fx->small, stdinLimit, NULL);
    withStdin(fx->big, stdinMap, fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),        cmocka_unit_test(test_read_limits),
        cmocka_unit_test(test_read_errors), cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_errors),  cmocka_unit_test(test_stdin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
