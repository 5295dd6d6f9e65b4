-- One row per digest period whose reviewers' digest a gateway has claimed: the first
-- gateway to insert it sends that digest, every other one sees the row and sends none.
CREATE TABLE digest_periods (
    period VARCHAR(64) NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (period)
);
