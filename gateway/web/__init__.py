"""The reviewers' web UI: Starlette routes, Jinja2 templates, sessions and security headers."""
