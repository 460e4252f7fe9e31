"""The analyzer's rules, one module per family: each holds the function that raises its rules and says which
(``RULES``), so a rule's code and its reasons sit together. The catalogue entries (title, severity, help) stay in
``inspector/rules.py``; the per-client state the cross-exchange families need is owned by ``analyze.Analyzer``,
which calls them in a fixed order (the order findings appear in reports).

``principals`` is the bearer token's issuer, realm, nameid and audience consistency, called by ``token_checks``
when it assesses a token. Families elsewhere, each already a module of its own: the bearer token's shape,
signature, audience and times (``token_checks``), token requests to Entra/ACS (``token_requests``), error bodies
(``body_errors``).
"""
