"""The SMTP edge: the aiosmtpd protocol and handler, access rules, connection limits, TLS."""
