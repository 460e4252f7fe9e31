"""Provisioning: the seed article's setup steps as data, rendered as PowerShell (plan) or performed (apply)."""
