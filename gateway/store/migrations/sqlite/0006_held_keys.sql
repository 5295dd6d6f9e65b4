-- The key of every sealed held body, wrapped by the master key (shared configuration), kept
-- in the store so that every gateway sharing it opens every held body. Deleting a row
-- destroys its body for good. Key ids are 32 hex digits, as in the sealed body's header.
CREATE TABLE held_keys (
    key_id VARCHAR(32) NOT NULL,
    wrapped BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (key_id)
);
