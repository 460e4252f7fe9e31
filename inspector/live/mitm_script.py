"""The script mitmproxy loads: ``mitmdump -s <path of this file>`` (``oauth-inspector proxy`` passes it).

It lives inside the package so that an installed oauth-inspector works without the repository checkout;
``addons/oauth_inspector.py`` in the repository is the same two lines.
"""

from inspector.live.addon import OAuthInspector

addons = [OAuthInspector()]
