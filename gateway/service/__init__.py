"""Use cases: submit a message, review held ones, notify, work the outbox, housekeeping."""
