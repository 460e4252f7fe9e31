"""The fixes the checks name: the seed article's cmdlets, and their current equivalents where a module is retired.

Kept in one place so that every check that needs, say, "upload the certificate" prints the same, tested text.
"""

from __future__ import annotations

from inspector.policy import SFB_ONLINE

EXPORT_CERT = (
    "Export the current auth certificate again (seed step 4): on Exchange, "
    "`$t = (Get-AuthConfig).CurrentCertificateThumbprint; "
    "Export-Certificate -Cert (Get-Item Cert:\\LocalMachine\\My\\$t) "
    "-FilePath $env:SYSTEMDRIVE\\OAuthConfig\\OAuthCert.cer`"
)

NEW_AUTH_CERT = (
    '`$c = New-ExchangeCertificate -KeySize 2048 -PrivateKeyExportable $true -SubjectName "cn=Microsoft Exchange '
    'Server Auth Certificate" -FriendlyName "Microsoft Exchange Server Auth Certificate" -DomainName @()`'
)

NEXT_CERT_PROCEDURE = (
    f"Prepare the next auth certificate now (the Next-certificate procedure): {NEW_AUTH_CERT}; "
    "`Set-AuthConfig -NewCertificateThumbprint $c.Thumbprint -NewCertificateEffectiveDate (Get-Date).AddDays(30)`; "
    "export it and upload it to the service principal beside the current one (seed steps 4-6, Graph commands as "
    "entra.sp-key shows); after the effective date `Set-AuthConfig -PublishCertificate` and "
    "`Set-AuthConfig -ClearPreviousCertificate`. CSS-Exchange's MonitorExchangeAuthCertificate.ps1 automates this."
)

REPLACE_EXPIRED_CERT = (
    f"Replace the auth certificate (KB 2617816): {NEW_AUTH_CERT}; "
    "`Set-AuthConfig -NewCertificateThumbprint $c.Thumbprint -NewCertificateEffectiveDate (Get-Date)`; "
    "`Set-AuthConfig -PublishCertificate`; `Set-AuthConfig -ClearPreviousCertificate`; restart MSExchangeServiceHost "
    "and recycle MSExchangeOWAAppPool and MSExchangeECPAppPool; then export and upload it again (seed steps 4-6) "
    "and re-run the Hybrid Configuration Wizard if this is a hybrid."
)


def upload_to_sp(app_id: str = SFB_ONLINE, cer: str = "$env:SYSTEMDRIVE\\OAuthConfig\\OAuthCert.cer") -> str:
    """Seed steps 5-6 with Microsoft Graph PowerShell (MSOnline is retired). The PATCH replaces the whole
    collection, so the unexpired keys are sent back with it (key, type and usage only: reference §5.5)."""
    return "\n".join(
        (
            "Upload the certificate with Microsoft Graph PowerShell (replaces seed steps 5-6; MSOnline is retired):",
            "Connect-MgGraph -Scopes Application.ReadWrite.All",
            f"$sp = Get-MgServicePrincipal -Filter \"AppId eq '{app_id}'\"",
            f'$cer = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2 "{cer}"',
            "$keep = @((Get-MgServicePrincipal -ServicePrincipalId $sp.Id -Property keyCredentials).KeyCredentials |",
            "  Where-Object { $_.EndDateTime -gt (Get-Date) } | ForEach-Object { @{Type=$_.Type; Usage=$_.Usage; "
            "Key=$_.Key} })",
            "Update-MgServicePrincipal -ServicePrincipalId $sp.Id -KeyCredentials ($keep +",
            "  @{Type='AsymmetricX509Cert'; Usage='Verify'; Key=$cer.RawData;",
            "    StartDateTime=$cer.NotBefore.ToUniversalTime(); EndDateTime=$cer.NotAfter.ToUniversalTime()})",
            "Step 6, check it: (Get-MgServicePrincipal -ServicePrincipalId $sp.Id -Property keyCredentials)"
            ".KeyCredentials | Format-List *",
        )
    )


def remove_expired_keys(app_id: str = SFB_ONLINE) -> str:
    return "\n".join(
        (
            "Remove the expired keys, keeping the others (the PATCH replaces the whole collection):",
            "Connect-MgGraph -Scopes Application.ReadWrite.All",
            f"$sp = Get-MgServicePrincipal -Filter \"AppId eq '{app_id}'\"",
            "$keep = @((Get-MgServicePrincipal -ServicePrincipalId $sp.Id -Property keyCredentials).KeyCredentials |",
            "  Where-Object { $_.EndDateTime -gt (Get-Date) } | ForEach-Object { @{Type=$_.Type; Usage=$_.Usage; "
            "Key=$_.Key} })",
            "Update-MgServicePrincipal -ServicePrincipalId $sp.Id -KeyCredentials $keep",
        )
    )


CREATE_APP_ACCOUNT = (
    "Create the account (seed step 2): `$user = New-MailUser -Name SfBOnline-ApplicationAccount "
    "-ExternalEmailAddress SfBOnline-ApplicationAccount@<your verified domain>`; "
    "`Set-MailUser -Identity $user.Identity -HiddenFromAddressListsEnabled $True`; "
    "`New-ManagementRoleAssignment -Role UserApplication -User $user.Identity`; "
    "`New-ManagementRoleAssignment -Role ArchiveApplication -User $user.Identity`"
)


def new_partner_application(app_id: str) -> str:
    return (
        f"{CREATE_APP_ACCOUNT}; then (seed step 3) `New-PartnerApplication -Name SfBOnline -ApplicationIdentifier "
        f"{app_id} -Enabled $True -LinkedAccount $user.Identity`"
    )


def set_linked_account(app_name: str) -> str:
    return (
        f"{CREATE_APP_ACCOUNT} (unless it exists); then "
        f'`Set-PartnerApplication -Identity "{app_name}" -LinkedAccount $user.Identity`'
    )


def new_auth_server(realm: str | None) -> str:
    tenant = realm or "<your tenant coexistence domain>"
    return (
        'Configure OAuth with Microsoft 365 (seed step 1): `New-AuthServer -Name "WindowsAzureACS" '
        f'-AuthMetadataUrl "https://accounts.accesscontrol.windows.net/{tenant}/metadata/json/1"` '
        "(GCC High/DoD: https://login.microsoftonline.us/<domain>/metadata/json/1), or re-run the Hybrid "
        "Configuration Wizard"
    )
