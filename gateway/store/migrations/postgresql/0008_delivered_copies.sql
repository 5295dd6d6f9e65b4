-- The recipients whose copies the downstream took before a later copy of the same message
-- failed (a JSON list of addresses; NULL: none), written when the attempt gives up its
-- claim: the retry that takes the claim over sends only the other copies.
ALTER TABLE accepted ADD COLUMN delivered_to TEXT;
-- The review figures (/insight) read holds by the time they were made.
CREATE INDEX ix_held_messages_created_at ON held_messages (created_at);
