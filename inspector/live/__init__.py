"""Live inspection inside mitmproxy: the addon, the token content view, and the script mitmproxy loads.

Module names here are deliberately specific: mitmproxy puts this folder on ``sys.path`` while it loads
``mitm_script.py``, so a generic name could shadow a top-level module.
"""
