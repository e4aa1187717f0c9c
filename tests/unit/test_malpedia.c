/*
 * test_malpedia.c - unit tests of the Malpedia helpers and secret loading
 * (common/malpedia.c, common/secret.c).
 *
 * Proves: the collection check accepts CSV with comments, blank lines and
 * CRLF, and refuses answers under 20 bytes, HTML/JSON error bodies, a line
 * with too few fields and a body without records, naming the bad line; the
 * validator hands back an exact copy; the auth header has the documented
 * form and refuses keys that would break the header line, without echoing
 * the key; secretLoad takes value, then environment, then file, trims the
 * newline, refuses control characters and never puts the secret into a
 * message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "malpedia.h"
#include "secret.h"

#define GOOD "# family;sample;v;b;vector\r\nwin.a;s1;1;32;AAAA\r\n\r\nwin.b;s2;1;64;BBBB\n"

static av_status check(const char *s, char *err) {
    return malpediaCheck((const unsigned char *)s, strlen(s), err, AV_ERRLEN);
}

static void test_check(void **state) {
    char err[AV_ERRLEN];
    assert_int_equal(check(GOOD, err), AV_OK);
    assert_int_equal(check("win.a;1;2;3;4", err), AV_ERR_PARSE);
    assert_non_null(strstr(err, "fewer than 20"));
    assert_int_equal(check("<html><body>Bad gateway</body></html>", err), AV_ERR_PARSE);
    assert_non_null(strstr(err, "line 1"));
    assert_int_equal(check("{\"detail\": \"Invalid token.\"}\n", err), AV_ERR_PARSE);
    assert_int_equal(check("win.a;s1;1;32;AAAA\nwin.b;s2;1\n", err), AV_ERR_PARSE);
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(check("# only comments here......\n\n", err), AV_ERR_PARSE);
    assert_non_null(strstr(err, "no records"));
}

static void test_validate_copies(void **state) {
    unsigned char *out = NULL;
    size_t len = 0;
    assert_int_equal(
        malpediaValidate((const unsigned char *)GOOD, strlen(GOOD), &out, &len, NULL, NULL, 0),
        AV_OK);
    assert_int_equal(len, strlen(GOOD));
    assert_memory_equal(out, GOOD, len);
    free(out);
}

static void test_auth_header(void **state) {
    char *h = NULL, err[AV_ERRLEN];
    assert_int_equal(malpediaAuthHeader("k3y", &h, err, sizeof(err)), AV_OK);
    assert_string_equal(h, "Authorization: apitoken k3y");
    secretFree(h);
    assert_int_equal(malpediaAuthHeader("bad key\r\nX: y", &h, err, sizeof(err)), AV_ERR_PARSE);
    assert_null(h);
    assert_null(strstr(err, "bad key"));
    assert_int_equal(malpediaAuthHeader("", &h, err, sizeof(err)), AV_ERR_PARSE);
}

static void test_secret_sources(void **state) {
    char *s = NULL, err[AV_ERRLEN];
    char path[] = "/tmp/test_secret_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-file\n", 10), 10);
    close(fd);
    setenv("TEST_SECRET_ENV", "from-env", 1);

    assert_int_equal(secretLoad("from-value", "TEST_SECRET_ENV", path, &s, err, sizeof(err)),
                     AV_OK);
    assert_string_equal(s, "from-value");
    secretFree(s);
    assert_int_equal(secretLoad(NULL, "TEST_SECRET_ENV", path, &s, err, sizeof(err)), AV_OK);
    assert_string_equal(s, "from-env");
    secretFree(s);
    assert_int_equal(secretLoad(NULL, "TEST_SECRET_UNSET_ENV", path, &s, err, sizeof(err)), AV_OK);
    assert_string_equal(s, "from-file");
    secretFree(s);
    unlink(path);
    assert_int_equal(secretLoad(NULL, NULL, path, &s, err, sizeof(err)), AV_ERR_IO);
    assert_non_null(strstr(err, path));
    assert_int_equal(secretLoad(NULL, "TEST_SECRET_UNSET_ENV", NULL, &s, err, sizeof(err)),
                     AV_ERR_NOTFOUND);
    setenv("TEST_SECRET_ENV", "zq\x01xw", 1);
    assert_int_equal(secretLoad(NULL, "TEST_SECRET_ENV", NULL, &s, err, sizeof(err)), AV_ERR_PARSE);
    assert_null(strstr(err, "zq"));
    assert_null(s);
    unsetenv("TEST_SECRET_ENV");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_validate_copies),
        cmocka_unit_test(test_auth_header),
        cmocka_unit_test(test_secret_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
