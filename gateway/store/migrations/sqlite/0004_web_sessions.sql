-- The review UI's sessions (sessions.py). IF NOT EXISTS, as in 0003.
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash VARCHAR(64) NOT NULL,
    login TEXT NOT NULL,
    data JSON NOT NULL,
    created_at DATETIME NOT NULL,
    last_seen DATETIME NOT NULL,
    PRIMARY KEY (id_hash)
);
CREATE INDEX IF NOT EXISTS ix_web_sessions_login ON web_sessions (login);
CREATE INDEX IF NOT EXISTS ix_web_sessions_last_seen ON web_sessions (last_seen);
