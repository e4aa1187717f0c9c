/*
 * test_dumpsrc.c - unit tests of the dump source that need no server.
 *
 * Everything file:// is covered here against a scratch folder tree made by
 * the group setup: digests checked against the sha256sum tool, the root
 * confinement (absolute paths elsewhere, "..", percent-encoded "..",
 * symlinks, a sibling folder sharing the root's name as prefix), size limits,
 * expected size and digest, empty dumps, non-regular files, and many threads
 * opening at once. The HTTP tests that need no server use a loopback port
 * nobody listens on (connect refused -> transient, credentials never shown)
 * and an unusable spool folder. Served HTTP cases live in
 * tests/integration/test_dumpsrc.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dumpsrc.h"
#include "http.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DATA_BYTES 300000

/* The scratch tree: <base>/root is the only allowed root, <base>/rooty is a
 * sibling whose name starts like the root, <base>/outside is off limits. */
typedef struct fixture {
    char base[64];
    char root[128];
    const char *roots[1];
    dumpsrc_config cfg;
    unsigned char data[DATA_BYTES];
} fixture;

static void writeFile(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void pathf(char *out, size_t outlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < outlen);
}

static int setupTree(void **state) {
    fixture *fx = calloc(1, sizeof(*fx));
    char p[256], q[256];
    assert_non_null(fx);
    snprintf(fx->base, sizeof(fx->base), "/tmp/dumpsrc-ut.XXXXXX");
    assert_non_null(mkdtemp(fx->base));
    pathf(fx->root, sizeof(fx->root), "%s/root", fx->base);
    assert_int_equal(mkdir(fx->root, 0700), 0);
    pathf(p, sizeof(p), "%s/rooty", fx->base);
    assert_int_equal(mkdir(p, 0700), 0);
    pathf(p, sizeof(p), "%s/outside", fx->base);
    assert_int_equal(mkdir(p, 0700), 0);
    pathf(p, sizeof(p), "%s/sub", fx->root);
    assert_int_equal(mkdir(p, 0700), 0);

    unsigned int seed = 12345;
    for (size_t i = 0; i < DATA_BYTES; i++)
        fx->data[i] = (unsigned char)(rand_r(&seed) >> 7);
    pathf(p, sizeof(p), "%s/a.bin", fx->root);
    writeFile(p, fx->data, DATA_BYTES);
    pathf(p, sizeof(p), "%s/sub/b.bin", fx->root);
    writeFile(p, fx->data, 1000);
    pathf(p, sizeof(p), "%s/c.bin", fx->root);
    writeFile(p, fx->data, 1001);
    pathf(p, sizeof(p), "%s/empty.bin", fx->root);
    writeFile(p, "", 0);
    pathf(p, sizeof(p), "%s/rooty/secret.bin", fx->base);
    writeFile(p, "secret", 6);
    pathf(p, sizeof(p), "%s/outside/secret.bin", fx->base);
    writeFile(p, "secret", 6);
    /* Symlinks inside the root: one escaping, one staying inside. */
    pathf(p, sizeof(p), "%s/outside", fx->base);
    pathf(q, sizeof(q), "%s/escape", fx->root);
    assert_int_equal(symlink(p, q), 0);
    pathf(q, sizeof(q), "%s/alias.bin", fx->root);
    assert_int_equal(symlink("sub/b.bin", q), 0);
    /* A symlink to the root itself, used as a configured root. */
    pathf(q, sizeof(q), "%s/rootlink", fx->base);
    assert_int_equal(symlink(fx->root, q), 0);
    pathf(p, sizeof(p), "%s/fifo", fx->root);
    assert_int_equal(mkfifo(p, 0600), 0);

    dumpsrcConfigInit(&fx->cfg);
    fx->roots[0] = fx->root;
    fx->cfg.file_roots = fx->roots;
    fx->cfg.nfile_roots = 1;
    *state = fx;
    return 0;
}

static int removeEntry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

static int teardownTree(void **state) {
    fixture *fx = *state;
    nftw(fx->base, removeEntry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Opens url with the fixture's config and returns the status; on success
 * *out is the dump (caller closes). */
static av_status openUrl(const dumpsrc_config *cfg, const char *url, const char *sha,
                         const uint64_t *size, dumpsrc_dump **out, char *err) {
    dumpsrc_request req = {.url = url, .sha256 = sha};
    if (size) {
        req.has_size = 1;
        req.expected_size = *size;
    }
    err[0] = '\0';
    av_status st = dumpsrcOpen(cfg, &req, out, err, AV_ERRLEN);
    if (st != AV_OK)
        assert_null(*out);
    return st;
}

static void expectError(const dumpsrc_config *cfg, const char *url, av_status want,
                        const char *needle) {
    dumpsrc_dump *d = (dumpsrc_dump *)1;
    char err[AV_ERRLEN];
    av_status st = openUrl(cfg, url, NULL, NULL, &d, err);
    if (st != want || !strstr(err, needle))
        fail_msg("%s: got %s \"%s\", want %s containing \"%s\"", url, avStatusName(st), err,
                 avStatusName(want), needle);
}

static void sha256sumOf(const char *path, char hex[SHA256_HEXLEN]) {
    char cmd[512];
    pathf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(hex, SHA256_HEXLEN, p));
    assert_int_equal(pclose(p), 0);
    assert_int_equal(strlen(hex), 64);
}

static void testFileOk(void **state) {
    fixture *fx = *state;
    char url[256], path[256], want[SHA256_HEXLEN], err[AV_ERRLEN];
    dumpsrc_dump *d = NULL;
    pathf(path, sizeof(path), "%s/a.bin", fx->root);
    pathf(url, sizeof(url), "file://%s", path);
    assert_int_equal(openUrl(&fx->cfg, url, NULL, NULL, &d, err), AV_OK);
    sha256sumOf(path, want);
    assert_string_equal(dumpsrcSha256Hex(d), want);
    assert_int_equal(dumpsrcSize(d), DATA_BYTES);
    assert_memory_equal(dumpsrcData(d), fx->data, DATA_BYTES);
    assert_true(dumpsrcFd(d) >= 0);
    dumpsrcClose(d);
}

static void testFileUrlForms(void **state) {
    fixture *fx = *state;
    char url[256], err[AV_ERRLEN];
    dumpsrc_dump *d = NULL;
    const char *forms[] = {"file://localhost%s/sub/b.bin", "FILE://%s/sub/b.bin?x=1#frag",
                           "file://%s/sub/%%62.bin", "file://%s//sub/./b.bin",
                           "file://%s/alias.bin"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        pathf(url, sizeof(url), forms[i], fx->root);
        if (openUrl(&fx->cfg, url, NULL, NULL, &d, err) != AV_OK)
            fail_msg("%s: %s", url, err);
        assert_int_equal(dumpsrcSize(d), 1000);
        assert_memory_equal(dumpsrcData(d), fx->data, 1000);
        dumpsrcClose(d);
    }
    /* A configured root that is a symlink to the real folder. */
    dumpsrc_config cfg = fx->cfg;
    char link[128];
    const char *roots[1] = {link};
    pathf(link, sizeof(link), "%s/rootlink", fx->base);
    cfg.file_roots = roots;
    pathf(url, sizeof(url), "file://%s/a.bin", link);
    assert_int_equal(openUrl(&cfg, url, NULL, NULL, &d, err), AV_OK);
    assert_int_equal(dumpsrcSize(d), DATA_BYTES);
    dumpsrcClose(d);
}

static void testEscapes(void **state) {
    fixture *fx = *state;
    char url[256];
    expectError(&fx->cfg, "file:///etc/passwd", AV_ERR_PERMANENT,
                "path /etc/passwd is outside the allowed file roots");
    pathf(url, sizeof(url), "file://%s/../../../etc/passwd", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "resolving to /etc/passwd) is outside");
    pathf(url, sizeof(url), "file://%s/%%2e%%2e/outside/secret.bin", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "outside the allowed file roots");
    pathf(url, sizeof(url), "file://%s/escape/secret.bin", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "outside the allowed file roots");
    pathf(url, sizeof(url), "file://%s/rooty/secret.bin", fx->base);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "outside the allowed file roots");
    /* Missing files outside the roots say "outside", not "does not exist". */
    pathf(url, sizeof(url), "file://%s/../outside/missing.bin", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "outside the allowed file roots");
    pathf(url, sizeof(url), "file://%s/missing.bin", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "No such file");
    expectError(&fx->cfg, "file://otherhost/etc/passwd", AV_ERR_PERMANENT,
                "must name a local absolute path");
    pathf(url, sizeof(url), "file://%s/a%%00.bin", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "bad percent escape");
    pathf(url, sizeof(url), "file://%s/a.bin%%2", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "bad percent escape");
}

static void testNotRegular(void **state) {
    fixture *fx = *state;
    char url[256];
    pathf(url, sizeof(url), "file://%s/fifo", fx->root); /* must not block */
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "is not a regular file");
    pathf(url, sizeof(url), "file://%s/sub/", fx->root);
    expectError(&fx->cfg, url, AV_ERR_PERMANENT, "is not a regular file");
}

static void testRootsConfig(void **state) {
    fixture *fx = *state;
    char url[256];
    dumpsrc_config cfg = fx->cfg;
    pathf(url, sizeof(url), "file://%s/a.bin", fx->root);
    cfg.nfile_roots = 0;
    expectError(&cfg, url, AV_ERR_PERMANENT, "file:// dumps are disabled");
    const char *relative[1] = {"tmp"};
    cfg.file_roots = relative;
    cfg.nfile_roots = 1;
    expectError(&cfg, url, AV_ERR_USAGE, "is not absolute");
    const char *missing[1] = {"/nonexistent/dumpsrc-root"};
    cfg.file_roots = missing;
    expectError(&cfg, url, AV_ERR_PERMANENT, "outside the allowed file roots");
}

static void testSizeLimits(void **state) {
    fixture *fx = *state;
    char url[256], err[AV_ERRLEN];
    dumpsrc_dump *d = NULL;
    dumpsrc_config cfg = fx->cfg;
    cfg.max_dump_bytes = 1000;
    pathf(url, sizeof(url), "file://%s/sub/b.bin", fx->root);
    assert_int_equal(openUrl(&cfg, url, NULL, NULL, &d, err), AV_OK);
    assert_int_equal(dumpsrcSize(d), 1000);
    dumpsrcClose(d);
    pathf(url, sizeof(url), "file://%s/c.bin", fx->root);
    expectError(&cfg, url, AV_ERR_LIMIT, "1001 bytes exceed the limit of 1000 bytes");

    uint64_t want = 999;
    assert_int_equal(openUrl(&fx->cfg, url, NULL, &want, &d, err), AV_ERR_PERMANENT);
    assert_non_null(strstr(err, "size mismatch (expected 999 bytes, got 1001)"));
    want = 1001;
    assert_int_equal(openUrl(&fx->cfg, url, NULL, &want, &d, err), AV_OK);
    dumpsrcClose(d);
}

static void testSha256(void **state) {
    fixture *fx = *state;
    char url[256], path[256], hex[SHA256_HEXLEN], err[AV_ERRLEN];
    dumpsrc_dump *d = NULL;
    pathf(path, sizeof(path), "%s/c.bin", fx->root);
    pathf(url, sizeof(url), "file://%s", path);
    sha256sumOf(path, hex);
    for (char *c = hex; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c); /* case must not matter */
    assert_int_equal(openUrl(&fx->cfg, url, hex, NULL, &d, err), AV_OK);
    dumpsrcClose(d);
    assert_int_equal(openUrl(&fx->cfg, url, "", NULL, &d, err), AV_OK); /* "" = none given */
    dumpsrcClose(d);

    hex[10] = hex[10] == '0' ? '1' : '0';
    assert_int_equal(openUrl(&fx->cfg, url, hex, NULL, &d, err), AV_ERR_PERMANENT);
    assert_non_null(strstr(err, "sha256 mismatch"));
    assert_non_null(strstr(err, url));
    assert_int_equal(openUrl(&fx->cfg, url, "abc", NULL, &d, err), AV_ERR_PERMANENT);
    assert_non_null(strstr(err, "is not 64 hex characters"));
}

static void testEmpty(void **state) {
    fixture *fx = *state;
    char url[256], err[AV_ERRLEN];
    dumpsrc_dump *d = NULL;
    uint64_t zero = 0;
    pathf(url, sizeof(url), "file://%s/empty.bin", fx->root);
    assert_int_equal(openUrl(&fx->cfg, url, EMPTY_SHA256, &zero, &d, err), AV_OK);
    assert_int_equal(dumpsrcSize(d), 0);
    assert_null(dumpsrcData(d));
    assert_string_equal(dumpsrcSha256Hex(d), EMPTY_SHA256);
    dumpsrcClose(d);
    dumpsrcClose(NULL);
}

static void testSchemes(void **state) {
    fixture *fx = *state;
    const char *bad[] = {"ftp://127.0.0.1/x.dmp", "gopher://h/x", "/tmp/x.dmp",
                         "httpx://h/x",           "http:/h/x",    ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expectError(&fx->cfg, bad[i], AV_ERR_PERMANENT, "unsupported URL scheme");
    dumpsrc_dump *d = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(dumpsrcOpen(&fx->cfg, NULL, &d, err, sizeof(err)), AV_ERR_USAGE);
    dumpsrc_request req = {0};
    assert_int_equal(dumpsrcOpen(&fx->cfg, &req, &d, err, sizeof(err)), AV_ERR_USAGE);
}

/* A loopback port that was free a moment ago: connecting to it is refused. */
static int closedPort(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void testHttpNoServer(void **state) {
    fixture *fx = *state;
    char url[256];
    int port = closedPort();
    pathf(url, sizeof(url), "http://alice:hunter2@127.0.0.1:%d/d/x.dmp?token=s3cr3t", port);
    dumpsrc_dump *d = NULL;
    char err[AV_ERRLEN];
    assert_int_equal(openUrl(&fx->cfg, url, NULL, NULL, &d, err), AV_ERR_TRANSIENT);
    char shown[128];
    pathf(shown, sizeof(shown), "http://127.0.0.1:%d/d/x.dmp", port);
    assert_non_null(strstr(err, shown));
    assert_null(strstr(err, "hunter2"));
    assert_null(strstr(err, "alice"));
    assert_null(strstr(err, "s3cr3t"));

    dumpsrc_config cfg = fx->cfg;
    cfg.no_memfd = 1;
    cfg.tmp_dir = "/nonexistent/dumpsrc-spool";
    expectError(&cfg, url, AV_ERR_IO, "cannot create a temp file in /nonexistent/dumpsrc-spool");
}

typedef struct worker {
    const fixture *fx;
    const char *url;
    av_status st;
    char sha[SHA256_HEXLEN];
} worker;

static void *openWorker(void *arg) {
    worker *w = arg;
    for (int i = 0; i < 20; i++) {
        dumpsrc_dump *d = NULL;
        char err[AV_ERRLEN];
        dumpsrc_request req = {.url = w->url};
        w->st = dumpsrcOpen(&w->fx->cfg, &req, &d, err, sizeof(err));
        if (w->st != AV_OK)
            return NULL;
        snprintf(w->sha, sizeof(w->sha), "%s", dumpsrcSha256Hex(d));
        dumpsrcClose(d);
    }
    return NULL;
}

static void testThreads(void **state) {
    fixture *fx = *state;
    char url[256], path[256], want[SHA256_HEXLEN];
    pathf(path, sizeof(path), "%s/a.bin", fx->root);
    pathf(url, sizeof(url), "file://%s", path);
    sha256sumOf(path, want);
    worker w[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){.fx = fx, .url = url, .st = AV_ERR_USAGE};
        assert_int_equal(pthread_create(&t[i], NULL, openWorker, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].st, AV_OK);
        assert_string_equal(w[i].sha, want);
    }
}

static int countFds(void) {
    int n = 0;
    char path[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

/* Every failure path must close what it opened: a consumer runs for months. */
static void testNoFdLeak(void **state) {
    fixture *fx = *state;
    char url[256], err[AV_ERRLEN];
    dumpsrc_dump *d = NULL;
    dumpsrc_config cfg = fx->cfg;
    cfg.max_dump_bytes = 1000;
    uint64_t wrong = 5;
    int before = countFds();
    pathf(url, sizeof(url), "file://%s/c.bin", fx->root);
    assert_int_equal(openUrl(&cfg, url, NULL, NULL, &d, err), AV_ERR_LIMIT);
    assert_int_equal(openUrl(&fx->cfg, url, NULL, &wrong, &d, err), AV_ERR_PERMANENT);
    assert_int_equal(openUrl(&fx->cfg, url, EMPTY_SHA256, NULL, &d, err), AV_ERR_PERMANENT);
    pathf(url, sizeof(url), "file://%s/fifo", fx->root);
    assert_int_equal(openUrl(&fx->cfg, url, NULL, NULL, &d, err), AV_ERR_PERMANENT);
    pathf(url, sizeof(url), "http://127.0.0.1:%d/x", closedPort());
    assert_int_equal(openUrl(&fx->cfg, url, NULL, NULL, &d, err), AV_ERR_TRANSIENT);
    pathf(url, sizeof(url), "file://%s/a.bin", fx->root);
    assert_int_equal(openUrl(&fx->cfg, url, NULL, NULL, &d, err), AV_OK);
    assert_int_equal(countFds(), before + 1);
    dumpsrcClose(d);
    assert_int_equal(countFds(), before);
}

static void expectName(const char *url, av_status want, const char *name) {
    char out[16];
    av_status st = dumpsrcNameFromUrl(url, out, sizeof(out));
    if (st != want || strcmp(out, name) != 0)
        fail_msg("%s: got %s \"%s\", want %s \"%s\"", url, avStatusName(st), out,
                 avStatusName(want), name);
}

static void testNameFromUrl(void **state) {
    expectName("http://h/dumps/0x400000.dmp", AV_OK, "0x400000.dmp");
    expectName("https://u:p@h:8443/a/b/c.bin?sig=x/y#frag/z", AV_OK, "c.bin");
    expectName("file:///tmp/x/mem_7ff6a000", AV_OK, "mem_7ff6a000");
    expectName("http://h/a%20b", AV_OK, "a%20b");
    expectName("http://h/dir/", AV_ERR_NOTFOUND, "");
    expectName("http://h", AV_ERR_NOTFOUND, "");
    expectName("http://h.example.com?x=/y", AV_ERR_NOTFOUND, "");
    expectName("http://h/0123456789abcdef.dmp", AV_ERR_LIMIT, "");
    expectName("plain.dmp", AV_OK, "plain.dmp");
    char out[4];
    assert_int_equal(dumpsrcNameFromUrl(NULL, out, sizeof(out)), AV_ERR_USAGE);
    assert_int_equal(dumpsrcNameFromUrl("http://h/x", NULL, 0), AV_ERR_USAGE);
}

int main(void) {
    char err[AV_ERRLEN];
    if (httpGlobalInit(err, sizeof(err)) != AV_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testFileOk),      cmocka_unit_test(testFileUrlForms),
        cmocka_unit_test(testEscapes),     cmocka_unit_test(testNotRegular),
        cmocka_unit_test(testRootsConfig), cmocka_unit_test(testSizeLimits),
        cmocka_unit_test(testSha256),      cmocka_unit_test(testEmpty),
        cmocka_unit_test(testSchemes),     cmocka_unit_test(testHttpNoServer),
        cmocka_unit_test(testThreads),     cmocka_unit_test(testNameFromUrl),
        cmocka_unit_test(testNoFdLeak),
    };
    return cmocka_run_group_tests(tests, setupTree, teardownTree);
}
