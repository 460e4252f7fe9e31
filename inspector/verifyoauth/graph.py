"""``--graph``: the service principal's ``keyCredentials`` read live from Microsoft Graph.

One ``GET /v1.0/servicePrincipals(appId='…')?$select=keyCredentials`` (``key`` is returned only with ``$select`` on a
single object), made by the shared Graph client (``remote.graph``): the same sign-in, timeouts and TLS handling as
provisioning.
"""

from __future__ import annotations

import json

from inspector.remote.errors import SourceError
from inspector.remote.graph import GraphClient, graph_error_detail
from inspector.remote.http import ProbeError
from inspector.remote.spkeys import ServicePrincipalKeys, parse_sp_keys
from inspector.text import safe

_GRAPH_REMEDY = {
    401: "The token was refused: check --graph-tenant and --graph-cloud match the tenant",
    403: "Grant the signing-in account or app Application.Read.All (or sign in as Global Reader / Application "
    "Administrator), then run again",
}


class GraphSource(GraphClient):
    @property
    def description(self) -> str:
        return f"Microsoft Graph ({self.settings.cloud})"

    def url(self, app_id: str) -> str:
        return self.service_principal_url(app_id) + "?$select=keyCredentials"

    def load(self, app_id: str) -> ServicePrincipalKeys:
        url = self.url(app_id)
        try:
            answer = self.send("GET", url)
        except ProbeError as exc:
            raise SourceError(f"Microsoft Graph could not be reached: {exc}") from exc
        if answer.status == 200:
            try:
                document = json.loads(answer.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise SourceError(f"Microsoft Graph answered 200 but not JSON from {url}") from exc
            return parse_sp_keys(document, "Microsoft Graph", app_id=app_id)
        detail = graph_error_detail(answer.body)
        if answer.status == 404:
            raise SourceError(
                f"No service principal with appId {app_id} in tenant {self.settings.tenant} "
                f"(Graph 404{': ' + detail if detail else ''})",
                remedy=f"Create it: `New-MgServicePrincipal -AppId {app_id}`, then upload the certificate (seed "
                "steps 5-6)",
                kind="not-found",
            )
        text = f"Microsoft Graph answered {answer.status} {safe(answer.reason, 60)}{': ' + detail if detail else ''}"
        if answer.status >= 500:
            text += " (a service-side error: run again later)"
        if 300 <= answer.status < 400:
            text += f" redirecting to {safe(answer.header('location') or '?', 200)} (not followed)"
        raise SourceError(text, remedy=_GRAPH_REMEDY.get(answer.status))
