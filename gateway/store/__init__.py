"""The durable store: held messages, outbox, audit log, thread memory, backups."""
