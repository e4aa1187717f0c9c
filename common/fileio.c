/*
 * fileio.c - local file access with size limits and clear errors.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static av_status fileReadFd(int fd, const char *path, size_t max_bytes, char **out, size_t *len,
                            char *err, size_t errlen) {
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                free(buf);
                return avErrorf(err, errlen, AV_ERR_LIMIT, "%s: larger than %zu bytes", path,
                                max_bytes);
            }
            char *p = realloc(buf, cap * 2 + 1);
            if (!p) {
                free(buf);
                return avErrorf(err, errlen, AV_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return avErrorf(err, errlen, AV_ERR_IO, "%s: read: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max_bytes) {
        free(buf);
        return avErrorf(err, errlen, AV_ERR_LIMIT, "%s: larger than %zu bytes", path, max_bytes);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AV_OK;
}

av_status fileRead(const char *path, size_t max_bytes, char **out, size_t *len, char *err,
                   size_t errlen) {
    *out = NULL;
    *len = 0;
    if (strcmp(path, "-") == 0)
        return fileReadFd(STDIN_FILENO, "<stdin>", max_bytes, out, len, err, errlen);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return avErrorf(err, errlen, AV_ERR_IO, "%s: %s", path, strerror(errno));
    av_status st = fileReadFd(fd, path, max_bytes, out, len, err, errlen);
    close(fd);
    return st;
}

av_status fileMap(const char *path, size_t max_bytes, file_map *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (strcmp(path, "-") == 0) {
        char *buf;
        av_status st = fileRead(path, max_bytes, &buf, &out->len, err, errlen);
        if (st == AV_OK) {
            out->heap = buf;
            out->data = (const unsigned char *)buf;
        }
        return st;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return avErrorf(err, errlen, AV_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return avErrorf(err, errlen, AV_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)sb.st_size > max_bytes) {
        close(fd);
        return avErrorf(err, errlen, AV_ERR_LIMIT, "%s: %lld bytes, limit %zu", path,
                        (long long)sb.st_size, max_bytes);
    }
    out->len = (size_t)sb.st_size;
    if (out->len) {
        void *p = mmap(NULL, out->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return avErrorf(err, errlen, AV_ERR_IO, "%s: mmap: %s", path, strerror(e));
        }
        out->data = p;
    }
    close(fd);
    return AV_OK;
}

void fileUnmap(file_map *m) {
    if (m->heap)
        free(m->heap);
    else if (m->data)
        munmap((void *)m->data, m->len);
    memset(m, 0, sizeof(*m));
}
