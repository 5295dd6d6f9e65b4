-- The store as it was before versioned migrations: a file without schema_version that has
-- these tables is at this version; every statement is IF NOT EXISTS for that reason.
CREATE TABLE IF NOT EXISTS held_messages (
    id VARCHAR(32) NOT NULL,
    queue_id VARCHAR(32) NOT NULL,
    created_at DATETIME NOT NULL,
    state VARCHAR(16) NOT NULL,
    version INTEGER NOT NULL,
    sender TEXT NOT NULL,
    recipients JSON NOT NULL,
    held_recipients JSON NOT NULL,
    stamp VARCHAR(32),
    reason TEXT NOT NULL,
    decision JSON NOT NULL,
    message_id TEXT,
    thread_id TEXT,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    decided_by TEXT,
    decided_at DATETIME,
    decision_note TEXT,
    PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS ix_held_messages_state ON held_messages (state);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER NOT NULL,
    at DATETIME NOT NULL,
    actor TEXT NOT NULL,
    action VARCHAR(32) NOT NULL,
    held_id VARCHAR(32),
    detail JSON NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS ix_audit_held ON audit_log (held_id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER NOT NULL,
    kind VARCHAR(16) NOT NULL,
    purpose VARCHAR(32) NOT NULL,
    held_id VARCHAR(32),
    sender TEXT NOT NULL,
    recipients JSON NOT NULL,
    data BLOB,
    requested_by TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at DATETIME NOT NULL,
    last_error TEXT,
    done_at DATETIME,
    PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS ix_outbox_held_id ON outbox (held_id);
CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox (state);
CREATE TABLE IF NOT EXISTS hold_notices (
    held_id VARCHAR(32) NOT NULL,
    noticed_at DATETIME NOT NULL,
    digest_pending INTEGER NOT NULL,
    PRIMARY KEY (held_id)
);
CREATE TABLE IF NOT EXISTS thread_messages (
    message_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    stamp VARCHAR(32),
    seen_at DATETIME NOT NULL,
    PRIMARY KEY (message_id)
);
CREATE INDEX IF NOT EXISTS ix_thread_messages_thread_id ON thread_messages (thread_id);
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT NOT NULL,
    stamp VARCHAR(32),
    confidential INTEGER NOT NULL,
    started_at DATETIME NOT NULL,
    PRIMARY KEY (thread_id)
);
CREATE TABLE IF NOT EXISTS thread_participants (
    thread_id TEXT NOT NULL,
    address TEXT NOT NULL,
    added_at DATETIME NOT NULL,
    PRIMARY KEY (thread_id, address)
);
CREATE TABLE IF NOT EXISTS register_clients (
    pseudonym TEXT NOT NULL,
    fields TEXT NOT NULL,
    resettled INTEGER NOT NULL,
    share_only_after_resettlement INTEGER NOT NULL,
    PRIMARY KEY (pseudonym)
);
CREATE TABLE IF NOT EXISTS register_hashes (
    pseudonym TEXT NOT NULL,
    field VARCHAR(16) NOT NULL,
    tokens BLOB NOT NULL,
    full BLOB NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_register_hashes_pseudonym ON register_hashes (pseudonym);
CREATE TABLE IF NOT EXISTS register_generation (
    id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (id)
);
