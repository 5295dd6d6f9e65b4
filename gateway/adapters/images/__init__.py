"""Images in mail: reading their metadata, rewriting them without it, finding faces."""
