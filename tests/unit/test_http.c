/*
 * test_http.c - unit tests of the HTTP GET primitive that need no server
 * (served cases run in tests/integration/test_fetch_*.sh).
 *
 * Proves: URLs in messages lose user:password and query strings; a header
 * line with CR/LF or without a colon is refused before anything is sent;
 * only http/https are allowed unless file:// is asked for, and a file:// read
 * then works with status 200 and the size limit applies to it; a refused
 * connection is transient and its message names the URL without the query;
 * a malformed URL is permanent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

static int setup(void **state) {
    return httpGlobalInit(NULL, 0) == AV_OK ? 0 : -1;
}

static void test_redact(void **state) {
    char out[256];
    httpUrlRedact("https://user:pw@host:8443/a/b?sig=SECRET#frag", out, sizeof(out));
    assert_string_equal(out, "https://host:8443/a/b?...");
    httpUrlRedact("http://host/x.json", out, sizeof(out));
    assert_string_equal(out, "http://host/x.json");
    httpUrlRedact("http://host/p@th", out, sizeof(out));
    assert_string_equal(out, "http://host/p@th");
    httpUrlRedact("http://averyveryverylonghost/path", out, 10);
    assert_int_equal(strlen(out), 9);
}

/* A loopback port with nothing listening: bind, read the port, close. */
static int deadPort(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_refused_is_transient(void **state) {
    char url[128], err[AV_ERRLEN];
    http_response resp;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x.json?token=SECRET", deadPort());
    const char *headers[] = {"Authorization: apitoken SECRETKEY", NULL};
    http_request req = {.url = url, .headers = headers, .connect_timeout_ms = 2000};
    assert_int_equal(httpGet(&req, NULL, NULL, &resp, err, sizeof(err)), AV_ERR_TRANSIENT);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(err, "/x.json"));
    assert_null(strstr(err, "SECRET"));
}

static void test_header_injection_refused(void **state) {
    char err[AV_ERRLEN];
    http_response resp;
    const char *headers[] = {"X-A: 1\r\nX-B: 2", NULL};
    http_request req = {.url = "http://127.0.0.1:1/", .headers = headers};
    assert_int_equal(httpGet(&req, NULL, NULL, &resp, err, sizeof(err)), AV_ERR_USAGE);
    const char *nocolon[] = {"justtext", NULL};
    req.headers = nocolon;
    assert_int_equal(httpGet(&req, NULL, NULL, &resp, err, sizeof(err)), AV_ERR_USAGE);
}

static void test_protocols(void **state) {
    char path[] = "/tmp/test_http_XXXXXX";
    char url[64], err[AV_ERRLEN];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    close(fd);
    snprintf(url, sizeof(url), "file://%s", path);
    http_response resp;
    http_request req = {.url = url};
    assert_int_equal(httpGet(&req, NULL, NULL, &resp, err, sizeof(err)), AV_ERR_PERMANENT);

    http_buffer buf = {0};
    req.protocols = HTTP_PROTO_FILE;
    assert_int_equal(httpGet(&req, httpBufferSink, &buf, &resp, err, sizeof(err)), AV_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(buf.len, 10);
    assert_memory_equal(buf.data, "0123456789", 10);
    free(buf.data);

    http_buffer small = {0};
    req.max_bytes = 5;
    assert_int_equal(httpGet(&req, httpBufferSink, &small, &resp, err, sizeof(err)), AV_ERR_LIMIT);
    assert_true(small.len <= 5);
    free(small.data);
    unlink(path);

    req = (http_request){.url = "gopher://127.0.0.1/"};
    assert_int_equal(httpGet(&req, NULL, NULL, &resp, err, sizeof(err)), AV_ERR_PERMANENT);
    req = (http_request){.url = "http://[::1"};
    assert_int_equal(httpGet(&req, NULL, NULL, &resp, err, sizeof(err)), AV_ERR_PERMANENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_refused_is_transient),
        cmocka_unit_test(test_header_injection_refused),
        cmocka_unit_test(test_protocols),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
