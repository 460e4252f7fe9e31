"""mitmproxy addon: judge the Microsoft S2S OAuth traffic that passes (mitmdump/mitmweb -s addons/oauth_inspector.py).

The logic lives in the installed package (inspector.live); see `oauth-inspector proxy --help` for a launcher.
"""

from inspector.live.addon import OAuthInspector

addons = [OAuthInspector()]
