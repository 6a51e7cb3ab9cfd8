"""The rules and services of invitations, accounts and settings (see ARCHITECTURE.md)."""
