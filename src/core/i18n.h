/*
 * Languages: which of the supported languages a reader gets, and the gettext lookup of a
 * message in it. Error messages (http/reply.c) and mails (jobs/mail.c) go through here; error
 * codes never do, so a client keys on the code and shows the message.
 *
 * Catalogues: po/ticketd.pot is made by xgettext from the sources (scripts/update_po.sh; the
 * keywords it extracts are listed there) and po/<lang>.po hold the translations; CMake compiles
 * each with msgfmt into <build>/locale/C/LC_MESSAGES/ticketd-<lang>.mo, and LOCALE_DIR points
 * an installed server at another copy. English is the msgid itself, so a missing catalogue or
 * message always falls back to English text, never to nothing.
 *
 * Why one text domain per language under the locale "C.UTF-8": glibc's gettext picks the
 * catalogue by the LC_MESSAGES locale of the calling thread, and a per-request choice must not
 * touch the process (setlocale and LANGUAGE are process-wide, not thread-safe). uselocale() is
 * per thread, but newlocale("hi_IN.UTF-8") fails unless that locale was generated on the
 * machine, and a fresh Debian has only C, C.UTF-8 and POSIX (locales-all is 200+ MB). C.UTF-8
 * is always there (built into glibc since 2.35, shipped by libc-bin before) and, unlike "C",
 * gettext does load catalogues for it (the name explodes to C.UTF-8, C.utf8, C: the files
 * live under C/). So every lookup runs dgettext("ticketd-<lang>", msgid) with the thread's
 * locale switched to one shared C.UTF-8 locale object for the duration of the call: thread-safe,
 * no generated locales, the library's own .mo reader and cache. LANGUAGE would override the
 * locale's name, so tix_i18n_init removes it from the environment (before any thread starts).
 *
 * Accept-Language (RFC 9110 12.5.4, RFC 4647 lookup): a comma-separated list of language
 * ranges, each optionally with ";q=" and a weight 0..1 with at most three decimals. A range
 * matches a supported language when it is the language or starts with it and "-" ("ta-IN" is
 * ta); the highest weight wins, and of equal weights the one listed first. q=0 means "not
 * this one". "*" says any language will do: it picks nothing itself, so the user's saved
 * locale (or English) answers. A header that does not parse is ignored as a whole.
 *
 * Everything here is thread-safe after tix_i18n_init; returned strings are static text or the
 * catalogue's memory (valid for the life of the process).
 */
#ifndef TIX_CORE_I18N_H
#define TIX_CORE_I18N_H

#include <stdbool.h>

/* Marks a string for xgettext without translating it (tables translated where they are used).
 * The names are gettext's own, which xgettext and translators know. */
#define N_(s) s /* NOLINT(readability-identifier-naming) */
/* The same for a string with a context (msgctxt), looked up with tix_trc(lang, ctx, s). */
#define NC_(ctx, s) s /* NOLINT(readability-identifier-naming) */

/* The longest locale tag stored for a user ("en", "hi", "ta"; room for region tags later). */
#define TIX_LOCALE_MAX 16

typedef enum tix_lang {
    TIX_LANG_NONE = 0, /* not chosen (yet): English when a message is made */
    TIX_LANG_EN,
    TIX_LANG_HI,
    TIX_LANG_TA,
    TIX_LANG_COUNT
} tix_lang;

/* Binds the catalogues under localedir (NULL or "": the build tree's, TIX_LOCALE_DIR) and
 * makes the C.UTF-8 locale object. Call once, before threads start. False (and every lookup
 * answers English) when the C.UTF-8 locale cannot be made; the server still runs. */
bool tix_i18n_init(const char *localedir);

/* "en" | "hi" | "ta" ("en" for NONE or a value out of range). */
const char *tix_lang_tag(tix_lang lang);
/* A supported tag exactly as tix_lang_tag spells it (ASCII case ignored); NONE otherwise. */
tix_lang tix_lang_parse(const char *tag);
/* The language an Accept-Language header picks (see above); NONE when the header is absent,
 * does not parse, or names no supported language with a weight above 0. */
tix_lang tix_lang_accept(const char *header);

/* msgid in lang: the translation, or msgid itself (English, a missing one, NULL msgid is NULL). */
const char *tix_tr(tix_lang lang, const char *msgid) __attribute__((format_arg(2)));
/* The same for a msgid with a context (msgctxt; mail templates use "mail:<name>"). */
const char *tix_trc(tix_lang lang, const char *context, const char *msgid)
    __attribute__((format_arg(3)));

#endif
