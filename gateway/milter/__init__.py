"""The milter edge: Postfix or Sendmail asks, at the end of each message, what to do with it."""
