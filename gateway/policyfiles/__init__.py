"""Policy files on disk: loading, validating, problem wording, group import, policy tests."""
