-- The Subject of a held message (sealed under its body's key when bodies are): the review
-- queue shows and searches it. Holds from before keep NULL.
ALTER TABLE held_messages ADD COLUMN subject BYTEA;
