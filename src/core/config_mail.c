/* Configuration of mail (jobs/mail.c): the SMTP server or the .eml folder, the sender, and the
 * retry policy. Errors never repeat SMTP_URL or SMTP_PASSWORD: they may hold a secret. */
#include "core/config_int.h"

#include <string.h>

tix_rc tix_config_load_mail(tix_config_parser *p, tix_config *cfg)
{
    const char *url = tix_config_value(p, "SMTP_URL");
    if (url != NULL && *url != '\0') {
        if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
            return tix_config_fail(p, "SMTP_URL must start with smtp:// or smtps://");
        }
        if (strlen(url) >= sizeof(cfg->smtp_url)) {
            return tix_config_fail(p, "SMTP_URL is too long");
        }
        memcpy(cfg->smtp_url, url, strlen(url) + 1);
    }
    const char *starttls = tix_config_text(p, "SMTP_STARTTLS");
    if (strcmp(starttls, "try") != 0 && strcmp(starttls, "required") != 0) {
        return tix_config_fail(p, "SMTP_STARTTLS must be try or required (got \"%.20s\")",
                               starttls);
    }
    cfg->smtp_starttls_required = strcmp(starttls, "required") == 0;
    const char *from = tix_config_text(p, "MAIL_FROM");
    if (strchr(from, '@') == NULL || strpbrk(from, "\r\n") != NULL) {
        return tix_config_fail(p, "MAIL_FROM must be an address such as ticketd <noreply@x.org>");
    }
    const struct {
        const char *name;
        char *dst;
        size_t cap;
    } texts[] = {
        {"SMTP_USER", cfg->smtp_user, sizeof(cfg->smtp_user)},
        {"SMTP_PASSWORD", cfg->smtp_password, sizeof(cfg->smtp_password)},
        {"SMTP_CA_FILE", cfg->smtp_ca_file, sizeof(cfg->smtp_ca_file)},
        {"MAIL_FROM", cfg->mail_from, sizeof(cfg->mail_from)},
        {"MAIL_DIR", cfg->mail_dir, sizeof(cfg->mail_dir)},
        {"LOCALE_DIR", cfg->locale_dir, sizeof(cfg->locale_dir)},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *v = tix_config_text(p, texts[i].name);
        if (v != NULL &&
            tix_config_copy_str(p, texts[i].dst, texts[i].cap, texts[i].name, v) != TIX_OK) {
            return TIX_EINVAL;
        }
    }
    const struct {
        const char *name;
        int64_t *out;
    } nums[] = {
        {"MAIL_MAX_ATTEMPTS", &cfg->mail_max_attempts},
        {"MAIL_RETRY", &cfg->mail_retry_ms},
        {"MAIL_RETRY_MAX", &cfg->mail_retry_max_ms},
        {"MAIL_TIMEOUT", &cfg->mail_timeout_ms},
        {"MAIL_BATCH", &cfg->mail_batch},
        {"MAIL_RETENTION", &cfg->mail_retention_ms},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (tix_config_get_num(p, nums[i].name, nums[i].out) != TIX_OK) {
            return TIX_EINVAL;
        }
    }
    return TIX_OK;
}
