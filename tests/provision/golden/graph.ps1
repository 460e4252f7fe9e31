<#
.SYNOPSIS
    Steps 5-6 of 'Configure Integration and OAuth between Skype for Business Online and Exchange
    Server' with Microsoft Graph PowerShell (the MSOnline module of the article is retired): upload the
    Exchange auth certificate to the Skype for Business Online service principal and check it arrived.
    Made by `oauth-inspector provision plan`.
.DESCRIPTION
    Needs the Microsoft.Graph.Applications module and an account that may consent to Application.ReadWrite.All
    (Application Administrator, or an owner of the service principal). The keys already on the service
    principal are kept; running the script again changes nothing.
#>
#Requires -Modules Microsoft.Graph.Authentication, Microsoft.Graph.Applications
[CmdletBinding()]
param(
    [string]$TenantId = 'fabrikam.onmicrosoft.com',
    [string]$CertFile = '.\OAuthCert.cer',
    [string]$ExpectedThumbprint = '',
    [switch]$Force
)
$ErrorActionPreference = 'Stop'

function Get-KeyThumbprint([byte[]]$Key) {
    # Graph returns the certificate (DER); keys uploaded as the bytes of base64 text are decoded once more.
    if ($null -eq $Key -or $Key.Length -eq 0) { return $null }
    try {
        if ($Key[0] -ne 0x30) { $Key = [System.Convert]::FromBase64String([System.Text.Encoding]::ASCII.GetString($Key)) }
        return [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($Key).Thumbprint
    } catch { return $null }
}
function Get-Keys($ServicePrincipalId) {
    # key data comes back only when one object is read with -Property (Graph's $select)
    @((Get-MgServicePrincipal -ServicePrincipalId $ServicePrincipalId -Property keyCredentials).KeyCredentials)
}

# The certificate exported by the Exchange script (step 4): public part only.
$cer = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new((Resolve-Path -LiteralPath $CertFile).Path)
if ($cer.HasPrivateKey) {
    throw "$CertFile carries a private key. Next: give the public certificate (.cer) only"
}
if ($ExpectedThumbprint -and $cer.Thumbprint -ne $ExpectedThumbprint) {
    throw "$CertFile is $($cer.Thumbprint), not $ExpectedThumbprint. Next: export it again (step 4)"
}
if ($cer.NotAfter.ToUniversalTime() -lt [DateTime]::UtcNow.AddDays(60) -and -not $Force) {
    throw "the certificate expires on $($cer.NotAfter) (less than 60 days away). Next: renew Exchange's auth certificate first, or run with -Force"
}
Connect-MgGraph -Environment Global -TenantId $TenantId -Scopes 'Application.ReadWrite.All' -NoWelcome

# ---- Step 5: Upload the certificate to the Skype for Business Online service principal ----
# MSOnline is retired: Microsoft Graph replaces it. A PATCH replaces the whole keyCredentials list, so the existing keys are read first and sent back (key, type and usage only).
# The seed article's commands, for reference:
#   Connect-MsolService
#   $cer = New-Object System.Security.Cryptography.X509Certificates.X509Certificate
#   $cer.Import($CertFile)
#   $credValue = [System.Convert]::ToBase64String($cer.GetRawCertData())
#   $p = Get-MsolServicePrincipal -ServicePrincipalName 00000004-0000-0ff1-ce00-000000000000
#   New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId -Type asymmetric -Usage Verify -Value $credValue

# 5.1 Add the certificate as a Verify key, keeping the existing keys
$sp = Get-MgServicePrincipal -Filter "AppId eq '00000004-0000-0ff1-ce00-000000000000'"
if ($null -eq $sp) {
    throw '5.1: no service principal 00000004-0000-0ff1-ce00-000000000000. Next: New-MgServicePrincipal -AppId 00000004-0000-0ff1-ce00-000000000000'
}
$before = Get-Keys $sp.Id
$present = @($before | Where-Object { (Get-KeyThumbprint $_.Key) -eq $cer.Thumbprint })
if ($present.Count -gt 0) {
    Write-Host '5.1 already done: Add the certificate as a Verify key, keeping the existing keys'
} else {
    $blind = @($before | Where-Object { $null -eq $_.Key -or $_.Key.Length -eq 0 })
    if ($blind.Count -gt 0) {
        throw '5.1 refused: some keys came back without their data; sending the list would drop them. Next: inspect them in the Entra admin center'
    }
    # A PATCH replaces the whole list: every existing key goes back, with key, type and usage only.
    $keep = @($before | ForEach-Object { @{ Key = $_.Key; Type = $_.Type; Usage = $_.Usage } })
    $new = @{
        Key = $cer.RawData; Type = 'AsymmetricX509Cert'; Usage = 'Verify'; DisplayName = $cer.Subject
        StartDateTime = $cer.NotBefore.ToUniversalTime(); EndDateTime = $cer.NotAfter.ToUniversalTime()
    }
    Update-MgServicePrincipal -ServicePrincipalId $sp.Id -KeyCredentials (@($keep) + @($new))
    Write-Host '5.1 changed: Add the certificate as a Verify key, keeping the existing keys'
}

# ---- Step 6: Verify that the certificate has been uploaded ----
# The seed article's commands, for reference:
#   Get-MsolServicePrincipalCredential -AppPrincipalId 00000004-0000-0ff1-ce00-000000000000

# 6.1 Read the keys back: the certificate's thumbprint and dates
$after = Get-Keys $sp.Id
$mine = @($after | Where-Object { (Get-KeyThumbprint $_.Key) -eq $cer.Thumbprint })
if ($mine.Count -eq 0) {
    throw '6.1: the certificate is not among the keys. Next: run this script again'
}
$kept = @($after | ForEach-Object { Get-KeyThumbprint $_.Key })
$lost = @($before | Where-Object { $t = Get-KeyThumbprint $_.Key; $t -and ($kept -notcontains $t) })
if ($lost.Count -gt 0) {
    throw "6.1: $($lost.Count) key(s) that were there before are gone. Next: upload them again from their certificates"
}
foreach ($key in $mine) {
    if ($key.Usage -ne 'Verify') { Write-Warning '6.1: the key is not a Verify key' }
    if ([Math]::Abs(($key.EndDateTime - $cer.NotAfter.ToUniversalTime()).TotalDays) -gt 1) {
        Write-Warning '6.1: the key''s end date is not the certificate''s'
    }
}
$mine | Format-List KeyId, DisplayName, Type, Usage, StartDateTime, EndDateTime
Write-Host '6.1 verified: Read the keys back: the certificate''s thumbprint and dates'
