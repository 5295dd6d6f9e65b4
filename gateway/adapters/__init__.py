"""Adapters to the outside: onward delivery, signing, header rewriting, sealing, accounts."""
