<#
.SYNOPSIS
    Steps 1-4 of 'Configure Integration and OAuth between Skype for Business Online and Exchange
    Server' on the Exchange side: the application account, its roles, the partner application and the auth
    certificate export. Made by `oauth-inspector provision plan`.
.DESCRIPTION
    Run in the Exchange Management Shell as a member of Organization Management. Every change is guarded by
    a read first: running the script again changes nothing. Step 1 is only checked.
#>
[CmdletBinding()]
param(
    [string]$Domain = 'fabrikam.com',
    [string]$DomainController = 'dc01.fabrikam.com',
    [string]$CertFile = "$env:SYSTEMDRIVE\OAuthConfig\OAuthCert.cer",
    [switch]$Force
)
$ErrorActionPreference = 'Stop'

# ---- Step 1: OAuth between Exchange and Exchange Online (plan only: checked, never changed) ----
# Normally done by the Hybrid Configuration Wizard; provisioning only checks it.
# The seed article's commands, for reference:
#   Perform the steps in the following article: Configure OAuth authentication between Exchange and Exchange Online organizations

# 1.1 An ACS auth server for the tenant
$authServer = Get-AuthServer -ErrorAction SilentlyContinue | Where-Object { $_.IssuerIdentifier -eq '00000001-0000-0000-c000-000000000000' } | Select-Object -First 1
if ($null -ne $authServer) {
    Write-Host '1.1 found: An ACS auth server for the tenant'
} else {
    Write-Warning '1.1 missing: An ACS auth server for the tenant. Run the Hybrid Configuration Wizard (or the steps of ''Configure OAuth authentication between Exchange and Exchange Online organizations''), then run provisioning again'
}

# 1.2 The Exchange Online partner application
$exchangeOnline = Get-PartnerApplication -ErrorAction SilentlyContinue | Where-Object { $_.ApplicationIdentifier -eq '00000002-0000-0ff1-ce00-000000000000' } | Select-Object -First 1
if ($null -ne $exchangeOnline) {
    Write-Host '1.2 found: The Exchange Online partner application'
} else {
    Write-Warning '1.2 missing: The Exchange Online partner application. Run the Hybrid Configuration Wizard (or the steps of ''Configure OAuth authentication between Exchange and Exchange Online organizations''), then run provisioning again'
}

# ---- Step 2: The application account for Skype for Business Online ----
# The seed article's commands, for reference:
#   $user = New-MailUser -Name SfBOnline-ApplicationAccount -ExternalEmailAddress SfBOnline-ApplicationAccount@<your Verified Domain> -DomainController <DomainControllerFQDN>
#   Set-MailUser -Identity $user.Identity -HiddenFromAddressListsEnabled $True -DomainController <DomainControllerFQDN>
#   New-ManagementRoleAssignment -Role UserApplication -User $user.Identity -DomainController <DomainControllerFQDN>
#   New-ManagementRoleAssignment -Role ArchiveApplication -User $user.Identity -DomainController <DomainControllerFQDN>

# 2.1 Create the mail user SfBOnline-ApplicationAccount
$user = Get-MailUser -Identity 'SfBOnline-ApplicationAccount' -DomainController $DomainController -ErrorAction SilentlyContinue
if ($null -ne $user) {
    Write-Host '2.1 already done: Create the mail user SfBOnline-ApplicationAccount'
} else {
    $user = New-MailUser -Name 'SfBOnline-ApplicationAccount' -ExternalEmailAddress "SfBOnline-ApplicationAccount@$Domain" -DomainController $DomainController
    Write-Host '2.1 created: Create the mail user SfBOnline-ApplicationAccount'
}

# 2.2 Hide SfBOnline-ApplicationAccount from address lists
$user = Get-MailUser -Identity 'SfBOnline-ApplicationAccount' -DomainController $DomainController -ErrorAction SilentlyContinue
if (($null -ne $user) -and ($user.HiddenFromAddressListsEnabled -eq $true)) {
    Write-Host '2.2 already done: Hide SfBOnline-ApplicationAccount from address lists'
} else {
    $null = Set-MailUser -Identity $user.Identity -HiddenFromAddressListsEnabled $true -DomainController $DomainController
    Write-Host '2.2 changed: Hide SfBOnline-ApplicationAccount from address lists'
}

# 2.3 Assign the UserApplication role to SfBOnline-ApplicationAccount
$userApplication = Get-ManagementRoleAssignment -RoleAssignee $user.Identity -Role 'UserApplication' -DomainController $DomainController -ErrorAction SilentlyContinue
if ($null -ne $userApplication) {
    Write-Host '2.3 already done: Assign the UserApplication role to SfBOnline-ApplicationAccount'
} else {
    $null = New-ManagementRoleAssignment -Role 'UserApplication' -User $user.Identity -DomainController $DomainController
    Write-Host '2.3 created: Assign the UserApplication role to SfBOnline-ApplicationAccount'
}

# 2.4 Assign the ArchiveApplication role to SfBOnline-ApplicationAccount
$archiveApplication = Get-ManagementRoleAssignment -RoleAssignee $user.Identity -Role 'ArchiveApplication' -DomainController $DomainController -ErrorAction SilentlyContinue
if ($null -ne $archiveApplication) {
    Write-Host '2.4 already done: Assign the ArchiveApplication role to SfBOnline-ApplicationAccount'
} else {
    $null = New-ManagementRoleAssignment -Role 'ArchiveApplication' -User $user.Identity -DomainController $DomainController
    Write-Host '2.4 created: Assign the ArchiveApplication role to SfBOnline-ApplicationAccount'
}

# ---- Step 3: The partner application for Skype for Business Online ----
# The seed article's commands, for reference:
#   New-PartnerApplication -Name SfBOnline -ApplicationIdentifier 00000004-0000-0ff1-ce00-000000000000 -Enabled $True -LinkedAccount $user.Identity

# 3.1 Create the partner application SfBOnline (00000004-0000-0ff1-ce00-000000000000)
$app = Get-PartnerApplication -DomainController $DomainController -ErrorAction SilentlyContinue | Where-Object { $_.ApplicationIdentifier -eq '00000004-0000-0ff1-ce00-000000000000' } | Select-Object -First 1
if (($null -ne $app) -and (-not ([string]::IsNullOrEmpty("$($app.AuthMetadataUrl)")))) {
    throw '3.1 refused: a partner application for 00000004-0000-0ff1-ce00-000000000000 already exists with an AuthMetadataUrl: it trusts an on-premises Skype for Business/Lync pool, which this setup would replace. Next: Decide which deployment Exchange should trust; to move to Skype for Business Online remove it (`Remove-PartnerApplication -Identity <its name>`) and run again'
}
if (($null -ne $app) -and (-not ([string]::IsNullOrEmpty("$($app.LinkedAccount)"))) -and (-not ("$($app.LinkedAccount)" -eq "$($user.Identity)"))) {
    throw '3.1 refused: a partner application for 00000004-0000-0ff1-ce00-000000000000 already exists, linked to another account. Next: Link it to SfBOnline-ApplicationAccount yourself (`Set-PartnerApplication -Identity <its name> -LinkedAccount SfBOnline-ApplicationAccount`) or keep it as it is and skip provisioning steps 2-3'
}
if ($null -ne $app) {
    Write-Host '3.1 already done: Create the partner application SfBOnline (00000004-0000-0ff1-ce00-000000000000)'
} else {
    $app = New-PartnerApplication -Name 'SfBOnline' -ApplicationIdentifier '00000004-0000-0ff1-ce00-000000000000' -Enabled $true -LinkedAccount $user.Identity -DomainController $DomainController
    Write-Host '3.1 created: Create the partner application SfBOnline (00000004-0000-0ff1-ce00-000000000000)'
}

# 3.2 Enable the partner application for 00000004-0000-0ff1-ce00-000000000000
$app = Get-PartnerApplication -DomainController $DomainController -ErrorAction SilentlyContinue | Where-Object { $_.ApplicationIdentifier -eq '00000004-0000-0ff1-ce00-000000000000' } | Select-Object -First 1
if (($null -ne $app) -and ($app.Enabled -eq $true)) {
    Write-Host '3.2 already done: Enable the partner application for 00000004-0000-0ff1-ce00-000000000000'
} else {
    $null = Set-PartnerApplication -Identity $app.Identity -Enabled $true -DomainController $DomainController
    Write-Host '3.2 changed: Enable the partner application for 00000004-0000-0ff1-ce00-000000000000'
}

# 3.3 Link the partner application to SfBOnline-ApplicationAccount
$app = Get-PartnerApplication -DomainController $DomainController -ErrorAction SilentlyContinue | Where-Object { $_.ApplicationIdentifier -eq '00000004-0000-0ff1-ce00-000000000000' } | Select-Object -First 1
if ("$($app.LinkedAccount)" -eq "$($user.Identity)") {
    Write-Host '3.3 already done: Link the partner application to SfBOnline-ApplicationAccount'
} else {
    $null = Set-PartnerApplication -Identity $app.Identity -LinkedAccount $user.Identity -DomainController $DomainController
    Write-Host '3.3 changed: Link the partner application to SfBOnline-ApplicationAccount'
}

# ---- Step 4: Export the on-premises authorization certificate ----
# apply brings the certificate bytes back over the remoting session: no file share, no private key.
# The seed article's commands, for reference:
#   $thumbprint = (Get-AuthConfig).CurrentCertificateThumbprint
#   $oAuthCert = (dir Cert:\LocalMachine\My) | where {$_.Thumbprint -match $thumbprint}
#   $certType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Cert
#   $certBytes = $oAuthCert.Export($certType)
#   $CertFile = "$env:SYSTEMDRIVE\OAuthConfig\OAuthCert.cer"
#   [System.IO.File]::WriteAllBytes($CertFile, $certBytes)

# 4.1 Read the current auth certificate (public part, DER)
$authConfig = Get-AuthConfig
$thumbprint = $authConfig.CurrentCertificateThumbprint
if ([string]::IsNullOrEmpty($thumbprint)) {
    throw '4.1: Get-AuthConfig names no current auth certificate. Next: create one (KB 2617816)'
}
$authCert = Get-ExchangeCertificate -Thumbprint $authConfig.CurrentCertificateThumbprint
if ($authCert.NotAfter -lt (Get-Date).AddDays(60) -and -not $Force) {
    throw "4.1 refused: the auth certificate expires on $($authCert.NotAfter) (less than 60 days away). Next: renew it (see MonitorExchangeAuthCertificate.ps1), or run with -Force"
}
$certBytes = $authCert.RawData  # the public certificate (DER); the private key stays put
$existing = $null
if (Test-Path -LiteralPath $CertFile) {
    try { $existing = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.IO.File]::ReadAllBytes($CertFile)) } catch { $existing = $null }
}
if (($null -ne $existing) -and ($existing.Thumbprint -eq $thumbprint)) {
    Write-Host "4.1 already done: $CertFile holds $thumbprint"
} else {
    $null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $CertFile)
    [System.IO.File]::WriteAllBytes($CertFile, $certBytes)
    Write-Host "4.1 written: $CertFile ($thumbprint)"
}
Write-Host "Copy $CertFile to the machine that runs the Microsoft Graph script (steps 5-6)."
