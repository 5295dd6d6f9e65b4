-- Idempotent acceptance (accepted.py): the answer given to each message, so that a client's
-- retry gets the same one, whichever gateway it reaches.
CREATE TABLE accepted (
    key VARCHAR(64) NOT NULL,
    state VARCHAR(16) NOT NULL,
    owner TEXT,
    queue_id VARCHAR(32) NOT NULL,
    hold_id VARCHAR(32),
    outcome VARCHAR(16),
    held INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    decision TEXT,
    maybe_delivered INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    PRIMARY KEY (key)
);
CREATE INDEX ix_accepted_created_at ON accepted (created_at);
