"""Signature verification of decoded tokens against the trust store.

The algorithm comes from a list fixed here, never from the token: RS256 only (all S2S tokens use it; reference
§1.3). The header's ``alg`` is compared with that list, and the key type is checked before use, so a certificate's
public key can never be fed to an HMAC (the HS256 confusion attack). Results are cached by the exact signed bytes,
signature and key, so a token repeated across thousands of requests is verified once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from inspector.frozen import pickled_by_constructor
from inspector.lru import LruCache
from inspector.tokens import Jwt
from inspector.trust import Trust, TrustedKey

ALLOWED_ALGORITHMS = frozenset({"RS256"})

SignatureVerdict = Literal["valid", "invalid", "unknown-key", "unsigned", "not-allowed"]


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class SignatureResult:
    verdict: Final[SignatureVerdict]
    key: Final[TrustedKey | None]
    """The key that verified (``valid``), or the one the header named when the signature is wrong (``invalid``)."""
    wrong_issuer_keys: Final[tuple[TrustedKey, ...]]
    """Keys the header named that exist but are trusted only for another issuer."""
    expected_thumbprint: Final[str | None]
    """The ``Get-AuthConfig`` thumbprint the header's ``x5t`` names, when one was configured."""

    def __init__(
        self,
        verdict: SignatureVerdict,
        key: TrustedKey | None = None,
        wrong_issuer_keys: tuple[TrustedKey, ...] = (),
        expected_thumbprint: str | None = None,
    ) -> None:
        self.verdict = verdict
        self.key = key
        self.wrong_issuer_keys = wrong_issuer_keys
        self.expected_thumbprint = expected_thumbprint


class Verifier:
    """Verifies RS256 signatures with a bounded cache of results."""

    def __init__(self, trust: Trust, cache_size: int = 4096) -> None:
        self.trust = trust
        self._cache: LruCache[tuple[bytes, bytes, int], bool] = LruCache(cache_size)
        self.cache_hits = 0
        self.verifications = 0
        self._results: dict[tuple[SignatureVerdict, int, str | None], SignatureResult] = {}

    def _check(self, token: Jwt, key: TrustedKey) -> bool:
        cache = self._cache
        if cache.size <= 0:  # no cache (nothing is kept): no key to build and look up
            self.verifications += 1
            return rs_verify(key, "RS256", token.signing_input, token.signature)
        cache_key = (token.signing_input, token.signature, id(key))
        cached = cache.get(cache_key)
        if cached is not None:
            self.cache_hits += 1
            return cached
        self.verifications += 1
        ok = rs_verify(key, "RS256", token.signing_input, token.signature)
        cache.put(cache_key, ok)
        return ok

    def verify(self, token: Jwt, issuer: str | None) -> SignatureResult:
        """Verify ``token`` as signed on behalf of ``issuer`` (its own ``iss``)."""
        alg = token.alg
        if alg not in ALLOWED_ALGORITHMS:  # RS256 is not "none": an allowed alg never reads as unsigned
            return SignatureResult("unsigned" if token.is_unsigned else "not-allowed")
        header = token.header
        trust = self.trust
        expected = trust.thumbprint_expected(header.get("x5t")) if trust.expected_thumbprints else None
        candidates = trust.candidates(header)
        if len(candidates) == 1 and candidates[0].issuer is None:
            # The usual case (one certificate given with --cert, trusted for any issuer): nothing to sort.
            usable: list[TrustedKey] | tuple[TrustedKey, ...] = candidates
            wrong_issuer: list[TrustedKey] = []
        else:
            usable, wrong_issuer = [], []
            for key in candidates:
                (usable if key.trusted_for(issuer) else wrong_issuer).append(key)
        if not usable:
            return SignatureResult("unknown-key", wrong_issuer_keys=tuple(wrong_issuer), expected_thumbprint=expected)
        for key in usable:
            if self._check(token, key):
                return self._result("valid", key, expected)
        return self._result("invalid", usable[0], expected)

    def _result(self, verdict: SignatureVerdict, key: TrustedKey, expected: str | None) -> SignatureResult:
        """One result per verdict, key and expected thumbprint, made once and shared (it is frozen): building a frozen
        dataclass costs about a microsecond, a few per cent of a cold token. Bounded by the trusted keys and the
        configured thumbprints; the result holds its key, so the key's id is not reused while the entry lives."""
        memo_key = (verdict, id(key), expected)
        result = self._results.get(memo_key)
        if result is None:
            result = self._results[memo_key] = SignatureResult(verdict, key=key, expected_thumbprint=expected)
        return result


_RSA_HASHES: dict[str, hashes.HashAlgorithm] = {
    "RS256": hashes.SHA256(),
    "RS384": hashes.SHA384(),
    "RS512": hashes.SHA512(),
}
"""Made once: the hash and padding objects hold no state (this runs once per distinct signature)."""
_PKCS1V15 = padding.PKCS1v15()


def rs_verify(key: TrustedKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 over the original segments. The analyzer calls it with RS256 only (ALLOWED_ALGORITHMS);
    the other hashes exist so external test vectors can be checked with the same primitive."""
    public_key = key.public_key
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    try:
        public_key.verify(signature, signing_input, _PKCS1V15, _RSA_HASHES[alg])
    except InvalidSignature:
        return False
    return True


pickled_by_constructor(SignatureResult)  # crosses processes (--jobs, --separately, Dask): see the function
