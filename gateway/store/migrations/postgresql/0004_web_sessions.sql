-- The review UI's sessions (sessions.py): a reviewer logged in on one gateway is on every one.
CREATE TABLE web_sessions (
    id_hash VARCHAR(64) NOT NULL,
    login TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    PRIMARY KEY (id_hash)
);
CREATE INDEX ix_web_sessions_login ON web_sessions (login);
CREATE INDEX ix_web_sessions_last_seen ON web_sessions (last_seen);
