"""Where the checks' configuration comes from, behind two small interfaces so the checks never know.

``ExchangeConfigSource``: the JSON bundle of the export script (:class:`BundleSource`, the offline path) or PowerShell
remoting (``psrp.PsrpSource``). ``ServicePrincipalSource``: a saved Graph/Graph-PowerShell JSON file
(:class:`FileSource`, ``--sp-credentials``) or Microsoft Graph live (``graph.GraphSource``, ``--graph``). Each
``load`` returns the data or raises :class:`SourceError` with a printable message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from inspector.remote.errors import SourceError
from inspector.remote.spkeys import ServicePrincipalKeys, parse_sp_json
from inspector.verifyoauth.bundle import MAX_BUNDLE, ExchangeConfig, load_bundle


class ExchangeConfigSource(Protocol):
    @property
    def description(self) -> str: ...

    def load(self) -> ExchangeConfig: ...


class ServicePrincipalSource(Protocol):
    @property
    def description(self) -> str: ...

    def load(self, app_id: str) -> ServicePrincipalKeys: ...


@dataclass(frozen=True, slots=True)
class BundleSource:
    path: Path

    @property
    def description(self) -> str:
        return f"bundle {self.path.name}"

    def load(self) -> ExchangeConfig:
        return load_bundle(self.path)


@dataclass(frozen=True, slots=True)
class FileSource:
    path: Path

    @property
    def description(self) -> str:
        return f"file {self.path.name}"

    def load(self, app_id: str) -> ServicePrincipalKeys:
        try:
            size = self.path.stat().st_size
            if size > MAX_BUNDLE:
                raise SourceError(f"{self.path} is {size} bytes; that is not service principal JSON")
            data = self.path.read_bytes()
        except OSError as exc:
            raise SourceError(f"Cannot read --sp-credentials {self.path}: {exc.strerror or exc}") from exc
        return parse_sp_json(data, self.path.name, app_id=app_id)
