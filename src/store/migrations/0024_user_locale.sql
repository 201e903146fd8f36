-- The language a user reads (issue 15, "Languages"): "en", "hi" or "ta" (core/i18n.h), set with
-- PATCH /me {locale}. NULL: never chosen; error messages follow Accept-Language, then English,
-- and mails are English. A request's Accept-Language wins over it for that request's messages;
-- mails, which have no request, always use it.
ALTER TABLE users ADD COLUMN locale TEXT;
