"""What each exchange of a driven lab run must raise, shared by the tests that drive the lab through a proxy and
over a captured loopback interface."""

from __future__ import annotations

import collections

from inspector.lab.client import Exchanged

HEALTHY = {"healthy-user", "app-only", "acs-actor"}
# With the lab offering Basic and NTLM beside Bearer, the non-token steps raise, in order:
OTHER_STEPS: dict[str, list[set[str]]] = {
    "metadata": [set()],
    "probe": [{"basic-offered"}],
    "basic-fallback": [{"basic-offered"}, {"basic-credentials", "basic-fallback"}],
    # Anonymous, then NTLM: the client never tried OAuth, so it is legacy authentication, not a fallback.
    "ntlm": [{"basic-offered"}, set(), {"legacy-auth"}],
    # Exchange's own token requests to the token-endpoint double: issued, a certificate never uploaded, a secret
    "token-requests": [set(), {"token-request-failed", "signing-key-unknown"}, {"token-request-failed"}],
}


def expected_rules(results: list[Exchanged]) -> list[set[str]]:
    """What each exchange must raise, from what the server answered: a refused token adds bearer-rejected."""
    seen: collections.Counter[str] = collections.Counter()
    out = []
    for item in results:
        step = item.step
        if step.scenario in OTHER_STEPS:
            out.append(OTHER_STEPS[step.scenario][seen[step.scenario]])
        else:
            rejected = item.status == 401 and step.authorization is not None
            out.append(set(step.expects) | ({"bearer-rejected"} if rejected else set()))
        seen[step.scenario] += 1
    return out
