-- Tickets at the door (issue 11): door staff per theatre and check-ins. Portable SQL (SQLite
-- 3.40 and PostgreSQL 15).
-- theatre_staff: a membership, not a role: a user (of any role) who may scan that theatre's
-- tickets and read its bookings. Added and removed by the theatre's owner or an admin
-- (added_by: who added the member, for the record).
CREATE TABLE theatre_staff (
    theatre_id TEXT NOT NULL REFERENCES theatres (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    added_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (theatre_id, user_id)
);
CREATE INDEX theatre_staff_user ON theatre_staff (user_id);

-- check_ins: a ticket is admitted once. The primary key on ticket_id is what makes two scanners
-- racing on one ticket end with exactly one admission (the insert is INSERT … ON CONFLICT DO
-- NOTHING RETURNING; the loser reads the winner's row). scanned_by is the staff member, owner
-- or admin who scanned it (the audit of the check-in); method says whether the scanner sent
-- the ticket's code or its signed token. show_id and theatre_id are copied from the ticket's
-- booking so the door's lists need no join.
CREATE TABLE check_ins (
    ticket_id TEXT PRIMARY KEY REFERENCES tickets (id),
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    show_id TEXT NOT NULL REFERENCES shows (id),
    theatre_id TEXT NOT NULL REFERENCES theatres (id),
    scanned_by TEXT NOT NULL REFERENCES users (id),
    method TEXT NOT NULL CHECK (method IN ('code', 'token')),
    checked_in_at BIGINT NOT NULL
);
CREATE INDEX check_ins_show ON check_ins (show_id, checked_in_at, ticket_id);
