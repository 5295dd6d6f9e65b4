"""stampgate: an SMTP relay that enforces confidentiality stamps."""

__version__ = "0.1.0"
