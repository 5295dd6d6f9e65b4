-- The Subject of a held message (sealed under its body's key when bodies are): the review
-- queue shows and searches it. Stores from before keep NULL for their holds.
ALTER TABLE held_messages ADD COLUMN subject BLOB;
