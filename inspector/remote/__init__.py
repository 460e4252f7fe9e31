"""Reaching the services a hybrid runs on: Exchange's remote PowerShell (PSRP), Microsoft Graph (signed in with
msal) and plain HTTPS, plus reading what they answer (PowerShell JSON, service principal key credentials).

Shared by ``verifyoauth`` (which reads) and ``provision`` (which reads and writes); neither imports the other for
remote access.
"""
