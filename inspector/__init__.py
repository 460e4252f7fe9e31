"""oauth-inspector: see from the wire whether Microsoft server-to-server OAuth really works."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oauth-inspector")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
