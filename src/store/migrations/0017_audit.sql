-- The audit trail (issue 12): one row per write by an admin or owner and per check-in attempt
-- (http/audit.h records them; store/audit.h writes and reads them). Append-only: triggers on both
-- databases refuse every UPDATE and DELETE (and TRUNCATE on PostgreSQL), so a row, once written,
-- is what happened. There is no foreign key on purpose: a cascade from users or theatres would be a
-- DELETE here, and the trail must outlive what it speaks of (an anonymised user keeps its id).
--
-- id: "aud_…", which begins with its ms (core/util.h: ids sort by time); at: ms since the epoch;
-- action: the route's name ("theatre.approve", http/audit.h); method and route: the request's
-- method and the route table's pattern; target_type/target_id: what it acted on (NULL when nothing was named);
-- request_id: the X-Request-Id answered; client_ip: the address http/clientip.c trusts; status:
-- the HTTP status answered; detail: the error code of a refusal (bounded, never a body).
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL CHECK (actor_role IN ('user', 'owner', 'admin')),
    action TEXT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    request_id TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    status INTEGER NOT NULL,
    detail TEXT
);
-- GET /admin/audit: newest first by id (ids begin with their ms, core/util.h), optionally by
-- actor, target or action; since/until narrow by at.
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_target ON audit_log (target_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- The triggers are the one part written twice (see "Dialect blocks" in store/db.c).
-- dialect: sqlite
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- dialect: postgres
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
-- dialect: all
