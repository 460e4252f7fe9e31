"""mitmproxy addon: judge the Microsoft S2S OAuth traffic that passes (mitmdump/mitmweb -s addons/oauth_inspector.py).

The logic lives in the installed package (inspector.live); see `oauth-inspector proxy --help` for a launcher.
"""

try:
    from inspector.live.addon import OAuthInspector
except ModuleNotFoundError as error:
    if (error.name or "").partition(".")[0] != "inspector":
        raise
    # mitmproxy runs scripts in its own Python: a standalone mitmproxy (uv tool, pipx, the binaries) does not see a
    # package installed elsewhere. Say how to put it there instead of a bare "No module named 'inspector'".
    raise ImportError(
        "oauth-inspector is not installed in the Python that runs this mitmproxy. Either run the proxy through "
        "oauth-inspector itself (`oauth-inspector proxy`), or add the package to mitmproxy's environment: "
        "`uv tool install mitmproxy --with /path/to/oauth-inspector` "
        "(or `pipx inject mitmproxy /path/to/oauth-inspector`), then `mitmdump -s addons/oauth_inspector.py` again."
    ) from None

addons = [OAuthInspector()]
