"""``verify-oauth``: post-setup checks of Exchange <-> Skype for Business Online S2S OAuth, from configuration to
the wire. Checks read their inputs through small interfaces (``sources``) and never know where the data came from."""
