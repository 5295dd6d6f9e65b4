-- An outbox entry is claimed by one gateway until its lease ends (several instances).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMP;
CREATE INDEX ix_outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
