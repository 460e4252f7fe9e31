"""oauth-inspector: see from the wire whether Microsoft server-to-server OAuth really works."""

__version__ = "0.1.0"
"""The one definition of the version (pyproject.toml reads it from here at build time)."""
