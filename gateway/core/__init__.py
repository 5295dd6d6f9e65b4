"""The pure core: message facts, stamp reading, policy values and the decision; no I/O."""
