"""The `invitations` command line."""
