"""The ``stampgate`` command line: one module per command group."""
