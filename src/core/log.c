/* JSON-lines logger. The level is a process-wide atomic; output goes to fd 2. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = TIX_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

void tix_log_set_level(tix_log_level level)
{
    atomic_store(&min_level, (int)level);
}

bool tix_log_enabled(tix_log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

bool tix_log_parse_level(const char *s, tix_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (tix_log_level)i;
            return true;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = TIX_LOG_WARN;
        return true;
    }
    return false;
}

/* The length of the valid UTF-8 sequence at s (1..4), 0 if it is not one (overlong, surrogate,
 * above U+10FFFF, cut short). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xc2 && c <= 0xdf ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f)) {
        return 0;
    }
    return n;
}

size_t tix_json_escape(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (cap == 0) {
        return 0;
    }
    while (s != NULL && *s != '\0') {
        unsigned char c = (unsigned char)*s;
        char esc[8] = {(char)c, 0, 0, 0, 0, 0, 0, 0};
        size_t len = 1;
        size_t used = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            len = 2;
        } else if (c == '\n') {
            esc[0] = '\\';
            esc[1] = 'n';
            len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        } else if (c >= 0x80) {
            /* a whole UTF-8 character or, for a byte that starts none, U+FFFD: the line stays
             * valid UTF-8 and is never cut inside a character */
            used = utf8_seq((const unsigned char *)s);
            if (used == 0) {
                memcpy(esc, "\\ufffd", 6);
                len = 6;
                used = 1;
            } else {
                memcpy(esc, s, used);
                len = used;
            }
        }
        if (n + len >= cap) {
            break;
        }
        memcpy(out + n, esc, len);
        n += len;
        s += used;
    }
    out[n] = '\0';
    return n;
}

static size_t stamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int ms = (int)(ts.tv_nsec / 1000000) % 1000;
    if (n + 6 > cap) {
        return n;
    }
    buf[n++] = '.';
    buf[n++] = (char)('0' + ms / 100);
    buf[n++] = (char)('0' + ms / 10 % 10);
    buf[n++] = (char)('0' + ms % 10);
    buf[n++] = 'Z';
    buf[n] = '\0';
    return n;
}

void tix_log_fields(tix_log_level level, const char *msg, const char *fields)
{
    if (!tix_log_enabled(level)) {
        return;
    }
    char ts[40];
    char emsg[1024];
    char line[4096];
    stamp(ts, sizeof(ts));
    tix_json_escape(emsg, sizeof(emsg), msg);
    int n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"%s%s}\n",
                     ts, names[level], emsg, fields ? "," : "", fields ? fields : "");
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(line)) { /* never cut a line inside its JSON: drop the fields */
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\",\"truncated\":true}\n", ts,
                     names[level], emsg);
        if (n < 0 || (size_t)n >= sizeof(line)) {
            return;
        }
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

static void logv(tix_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void logv(tix_log_level level, const char *fmt, va_list ap)
{
    if (!tix_log_enabled(level)) {
        return;
    }
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    tix_log_fields(level, msg, NULL);
}

#define LOG_AT(name, level)                                                                        \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        logv(level, fmt, ap);                                                                      \
        va_end(ap);                                                                                \
    }

LOG_AT(tix_log_debug, TIX_LOG_DEBUG)
LOG_AT(tix_log_info, TIX_LOG_INFO)
LOG_AT(tix_log_warn, TIX_LOG_WARN)
LOG_AT(tix_log_error, TIX_LOG_ERROR)

void tix_log(tix_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(level, fmt, ap);
    va_end(ap);
}
