/*
 * Logging as JSON lines on stderr, one write(2) per line so lines from many threads never
 * interleave. Never log a password, token, secret or signature: log ids. A line logged while
 * a request id is set (tix_log_set_request_id) carries it as "rid", so one request's lines,
 * and those of the mail and jobs it caused, can be found together.
 */
#ifndef TIX_CORE_LOG_H
#define TIX_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum tix_log_level {
    TIX_LOG_DEBUG = 0,
    TIX_LOG_INFO = 1,
    TIX_LOG_WARN = 2,
    TIX_LOG_ERROR = 3,
} tix_log_level;

void tix_log_set_level(tix_log_level level);
bool tix_log_enabled(tix_log_level level);
/* Parses "debug" | "info" | "warn" | "error"; false if unknown. */
bool tix_log_parse_level(const char *s, tix_log_level *out);

/* {"ts":…,"level":…,"msg":"<formatted>"}; the message is JSON-escaped. */
void tix_log(tix_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* {"ts":…,"level":…,"msg":msg,<fields>}: fields is a ready JSON member list such as
 * "\"port\":8080" (already escaped by the caller with tix_json_escape), or NULL. */
void tix_log_fields(tix_log_level level, const char *msg, const char *fields);

/* The request id (X-Request-Id) of the work this thread does now: every line it logs carries
 * it as "rid" until it is cleared (NULL or ""). The server sets it around a handler's run
 * (http/server_request.c), the mail job around each outbox row it sends (the id of the request
 * that queued the mail), the scheduler around a job's run (the run's id). At most
 * TIX_LOG_RID_MAX - 1 bytes are kept. tix_log_request_id: the id as set (JSON-escaped), or
 * NULL when none is set. */
#define TIX_LOG_RID_MAX 72
void tix_log_set_request_id(const char *rid);
const char *tix_log_request_id(void);

/* Writes s as the inside of a JSON string into out (at most cap bytes, always terminated).
 * Control characters (C0, DEL, C1) and U+2028/U+2029 are escaped, so a line of the log is
 * one line to every reader; invalid UTF-8 becomes U+FFFD. Returns the length written; output
 * is cut, never overflowed. */
size_t tix_json_escape(char *out, size_t cap, const char *s);

/* tix_log at a fixed level. */
void tix_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tix_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tix_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tix_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
