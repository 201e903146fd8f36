/* Languages and gettext lookups; see i18n.h for the design. */
#include "core/i18n.h"

#include "core/log.h"

#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef TIX_LOCALE_DIR
#define TIX_LOCALE_DIR "./locale"
#endif

static const char *const tags[TIX_LANG_COUNT] = {"en", "en", "hi", "ta"};
/* The text domain of each language (English too: po/en.po may word a message better than its
 * msgid without changing the msgid). */
static const char *const domains[TIX_LANG_COUNT] = {NULL, "ticketd-en", "ticketd-hi", "ticketd-ta"};

/* The shared C.UTF-8 locale every lookup switches to; (locale_t)0 = English only. Written
 * once by tix_i18n_init before threads start, read-only afterwards. */
static locale_t utf8_locale;

bool tix_i18n_init(const char *localedir)
{
    const char *dir = localedir != NULL && *localedir != '\0' ? localedir : TIX_LOCALE_DIR;
    unsetenv("LANGUAGE");
    for (int l = 0; l < TIX_LANG_COUNT; l++) {
        if (domains[l] != NULL) {
            bindtextdomain(domains[l], dir);
            bind_textdomain_codeset(domains[l], "UTF-8");
        }
    }
    if (utf8_locale == (locale_t)0) {
        utf8_locale = newlocale(LC_CTYPE_MASK | LC_MESSAGES_MASK, "C.UTF-8", (locale_t)0);
    }
    if (utf8_locale == (locale_t)0) {
        tix_log_warn("i18n: the C.UTF-8 locale is missing; every message will be English");
        return false;
    }
    static const char header_msgid[] = ""; /* not a literal argument: xgettext skips it */
    for (int l = TIX_LANG_HI; l < TIX_LANG_COUNT; l++) {
        /* a loaded catalogue answers the empty msgid with its header */
        if (*tix_tr((tix_lang)l, header_msgid) == '\0') {
            tix_log_warn(
                "i18n: no %s catalogue under %s (LOCALE_DIR); its messages will be English",
                tags[l], dir);
        }
    }
    return true;
}

const char *tix_lang_tag(tix_lang lang)
{
    return lang > TIX_LANG_NONE && lang < TIX_LANG_COUNT ? tags[lang] : "en";
}

tix_lang tix_lang_parse(const char *tag)
{
    if (tag == NULL) {
        return TIX_LANG_NONE;
    }
    for (int l = TIX_LANG_EN; l < TIX_LANG_COUNT; l++) {
        if (strcasecmp(tag, tags[l]) == 0) {
            return (tix_lang)l;
        }
    }
    return TIX_LANG_NONE;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* Parses a language range at *pp: "*" or 1*8ALPHA *("-" 1*8alphanum). Sets [*start, *len). */
static bool parse_range(const char **pp, const char **start, size_t *len)
{
    const char *p = *pp;
    *start = p;
    if (*p == '*') {
        p++;
    } else {
        size_t n = 0;
        while (is_alpha(p[n])) {
            n++;
        }
        if (n == 0 || n > 8) {
            return false;
        }
        p += n;
        while (*p == '-') {
            p++;
            n = 0;
            while (is_alpha(p[n]) || is_digit(p[n])) {
                n++;
            }
            if (n == 0 || n > 8) {
                return false;
            }
            p += n;
        }
    }
    *len = (size_t)(p - *start);
    *pp = p;
    return true;
}

/* Parses a qvalue at *pp: ("0" ["." 0*3DIGIT]) / ("1" ["." 0*3"0"]), as thousandths. */
static bool parse_q(const char **pp, int *q)
{
    const char *p = *pp;
    if (*p != '0' && *p != '1') {
        return false;
    }
    int whole = *p++ - '0';
    int frac = 0;
    int digits = 0;
    if (*p == '.') {
        p++;
        while (is_digit(*p) && digits < 4) {
            frac = frac * 10 + (*p++ - '0');
            digits++;
        }
        if (digits > 3) {
            return false;
        }
    }
    for (int d = digits; d < 3; d++) {
        frac *= 10;
    }
    if (whole == 1 && frac != 0) {
        return false;
    }
    *q = whole * 1000 + frac;
    *pp = p;
    return true;
}

/* The supported language range [s, s+n) matches, or NONE. */
static tix_lang match_range(const char *s, size_t n)
{
    for (int l = TIX_LANG_EN; l < TIX_LANG_COUNT; l++) {
        size_t tn = strlen(tags[l]);
        if (n >= tn && strncasecmp(s, tags[l], tn) == 0 && (n == tn || s[tn] == '-')) {
            return (tix_lang)l;
        }
    }
    return TIX_LANG_NONE;
}

#define ACCEPT_LANGUAGE_MAX 1024

/* Parses one list element at *pp: a range, an optional ";q=" weight, then "," or the end.
 * *lang: the supported language it matches (NONE for none), *q its weight in thousandths. */
static bool parse_element(const char **pp, tix_lang *lang, int *q)
{
    const char *p = *pp;
    const char *range = NULL;
    size_t n = 0;
    if (!parse_range(&p, &range, &n)) {
        return false;
    }
    *q = 1000;
    p = skip_ows(p);
    if (*p == ';') {
        p = skip_ows(p + 1);
        if ((p[0] != 'q' && p[0] != 'Q') || p[1] != '=') {
            return false;
        }
        p += 2;
        if (!parse_q(&p, q)) {
            return false;
        }
        p = skip_ows(p);
    }
    if (*p != ',' && *p != '\0') {
        return false;
    }
    *lang = match_range(range, n);
    *pp = p;
    return true;
}

tix_lang tix_lang_accept(const char *header)
{
    if (header == NULL || strlen(header) > ACCEPT_LANGUAGE_MAX) {
        return TIX_LANG_NONE;
    }
    tix_lang best = TIX_LANG_NONE;
    int best_q = 0;
    const char *p = skip_ows(header);
    while (*p != '\0') {
        if (*p == ',') { /* empty list elements are allowed (RFC 9110 5.6.1) */
            p = skip_ows(p + 1);
            continue;
        }
        tix_lang l = TIX_LANG_NONE;
        int q = 0;
        if (!parse_element(&p, &l, &q)) {
            return TIX_LANG_NONE;
        }
        if (l != TIX_LANG_NONE && q > best_q) {
            best = l;
            best_q = q;
        }
    }
    return best;
}

const char *tix_tr(tix_lang lang, const char *msgid)
{
    if (msgid == NULL || lang <= TIX_LANG_NONE || lang >= TIX_LANG_COUNT || domains[lang] == NULL ||
        utf8_locale == (locale_t)0) {
        return msgid;
    }
    locale_t old = uselocale(utf8_locale);
    const char *s = dgettext(domains[lang], msgid);
    uselocale(old);
    return s != NULL && *s != '\0' ? s : msgid;
}

/* Longest "context\004msgid" key looked up; a longer one is answered in English. */
#define KEY_MAX 8192

const char *tix_trc(tix_lang lang, const char *context, const char *msgid)
{
    if (msgid == NULL || lang <= TIX_LANG_NONE || lang >= TIX_LANG_COUNT || domains[lang] == NULL ||
        utf8_locale == (locale_t)0) {
        return msgid;
    }
    char key[KEY_MAX];
    int n = snprintf(key, sizeof(key), "%s\004%s", context, msgid);
    if (n < 0 || (size_t)n >= sizeof(key)) {
        return msgid;
    }
    locale_t old = uselocale(utf8_locale);
    const char *s = dgettext(domains[lang], key);
    uselocale(old);
    /* gettext answers its argument (here our stack buffer) when there is no translation */
    return s != NULL && s != key && *s != '\0' ? s : msgid;
}
