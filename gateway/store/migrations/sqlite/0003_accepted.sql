-- Idempotent acceptance (accepted.py): the answer given to each message, so that a client's
-- retry gets the same one. IF NOT EXISTS: store files opened by the release that added the
-- table before versioned migrations have it already.
CREATE TABLE IF NOT EXISTS accepted (
    key VARCHAR(64) NOT NULL,
    state VARCHAR(16) NOT NULL,
    owner TEXT,
    queue_id VARCHAR(32) NOT NULL,
    hold_id VARCHAR(32),
    outcome VARCHAR(16),
    held INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    decision JSON,
    maybe_delivered INTEGER NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    claimed_at DATETIME NOT NULL,
    answered_at DATETIME,
    PRIMARY KEY (key)
);
CREATE INDEX IF NOT EXISTS ix_accepted_created_at ON accepted (created_at);
