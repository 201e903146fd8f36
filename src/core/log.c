/* JSON-lines logger. The level is a process-wide atomic; output goes to fd 2. */
#include "core/log.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = TIX_LOG_INFO;
/* The request id of what this thread works for (see log.h), already JSON-escaped; "" none. */
static _Thread_local char cur_rid[TIX_LOG_RID_MAX * 2];
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

/* The code point to write as \uXXXX for the character at s of seq bytes (0: not UTF-8), or 0
 * when it is written as it is: C0 controls and DEL; C1 controls (U+0080..U+009F; NEL ends a line
 * for some readers); U+2028/U+2029 (line breaks to Python's splitlines and some log shippers);
 * U+FFFD for a byte that starts no UTF-8 character. */
static unsigned escaped_code_point(const unsigned char *s, size_t seq)
{
    if (seq == 0) {
        return 0xfffdu;
    }
    if (s[0] < 0x20 || s[0] == 0x7f) {
        return s[0];
    }
    if (seq == 2 && s[0] == 0xc2 && s[1] <= 0x9f) {
        return s[1];
    }
    if (seq == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
        return 0x2000u + s[2] - 0x80u;
    }
    return 0;
}

/* The JSON form of the character at s into esc (at most 6 bytes); *used = the bytes of s it
 * stands for. A byte that starts no UTF-8 character becomes U+FFFD, so the output is always
 * valid UTF-8 and is never cut inside a character. */
static size_t escape_char(const char *s, char esc[8], size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)*s;
    *used = 1;
    if (c == '"' || c == '\\' || c == '\n') {
        esc[0] = '\\';
        esc[1] = (char)(c == '\n' ? 'n' : c);
        return 2;
    }
    size_t seq = c >= 0x80 ? tix_utf8_seq((const unsigned char *)s) : 1;
    unsigned v = escaped_code_point((const unsigned char *)s, seq);
    if (v != 0) {
        *used = seq == 0 ? 1 : seq;
        esc[0] = '\\';
        esc[1] = 'u';
        esc[2] = hex[(v >> 12) & 15];
        esc[3] = hex[(v >> 8) & 15];
        esc[4] = hex[(v >> 4) & 15];
        esc[5] = hex[v & 15];
        return 6;
    }
    for (size_t k = 0; k < seq; k++) {
        esc[k] = s[k];
    }
    *used = seq;
    return seq;
}

size_t tix_json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap == 0) {
        return 0;
    }
    while (s != NULL && *s != '\0') {
        char esc[8];
        size_t used = 1;
        size_t len = escape_char(s, esc, &used);
        if (n + len >= cap) {
            break;
        }
        for (size_t k = 0; k < len; k++) {
            out[n + k] = esc[k];
        }
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

void tix_log_set_request_id(const char *rid)
{
    char cut[TIX_LOG_RID_MAX];
    snprintf(cut, sizeof(cut), "%s", rid != NULL ? rid : "");
    tix_json_escape(cur_rid, sizeof(cur_rid), cut);
}

const char *tix_log_request_id(void)
{
    return cur_rid[0] != '\0' ? cur_rid : NULL;
}

void tix_log_fields(tix_log_level level, const char *msg, const char *fields)
{
    if (!tix_log_enabled(level)) {
        return;
    }
    char ts[40];
    char emsg[1024];
    char line[4096];
    char rid[sizeof(cur_rid) + 16] = "";
    stamp(ts, sizeof(ts));
    tix_json_escape(emsg, sizeof(emsg), msg);
    if (cur_rid[0] != '\0' && (fields == NULL || strncmp(fields, "\"rid\":", 6) != 0)) {
        snprintf(rid, sizeof(rid), ",\"rid\":\"%s\"", cur_rid); /* fields naming it win */
    }
    int n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"%s%s%s}\n",
                     ts, names[level], emsg, rid, fields ? "," : "", fields ? fields : "");
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
