"""A fake of the pypsrp surface the remoting code uses (``PowerShell.add_cmdlet``, ``add_parameter``, ``invoke``,
``had_errors``, ``streams.error``), answering with real pypsrp deserialized objects and error records. What answers
is a ``Runspace``: a table of fixed answers (verify-oauth's tests) or an in-memory Exchange (provisioning's)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Protocol

from pypsrp.complex_objects import ErrorRecord, GenericComplexObject

from inspector.remote.psrp import PowerShellFactory, PsrpSettings

Parameters = tuple[tuple[str, object], ...]


def obj(to_string: str | None = None, **properties: Any) -> GenericComplexObject:
    """A deserialized PowerShell object as pypsrp builds it."""
    value = GenericComplexObject()
    value.adapted_properties.update(properties)
    value.to_string = to_string
    value.types = [
        "Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.Fake",
        "Deserialized.System.Object",
    ]
    return value


def enum(name: str, number: int) -> GenericComplexObject:
    value = obj(name)
    value.property_sets.append(number)
    return value


class CmdletFailure(Exception):
    """A cmdlet's (non-terminating) error: it lands in ``streams.error`` and sets ``had_errors``."""

    def __init__(self, message: str, *, fq_error: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.fq_error = fq_error
        self.reason = reason


def error_record(failure: CmdletFailure) -> ErrorRecord:
    record = ErrorRecord()  # type: ignore[no-untyped-call]
    record._to_string = str(failure)  # type: ignore[assignment]  # what a deserialised record's ToString holds
    record.fq_error = failure.fq_error
    record.reason = failure.reason
    record.message = f"NotSpecified: (:) [], {failure.reason}" if failure.reason else None
    return record


class Runspace(Protocol):
    def run(self, cmdlet: str, parameters: Parameters) -> list[Any]:
        """The cmdlet's output; :class:`CmdletFailure` for its error; any other exception: the session broke."""
        ...


class FakePowerShell:
    """pypsrp's ``PowerShell`` as far as the remoting code uses it."""

    def __init__(self, runspace: Runspace) -> None:
        self.runspace = runspace
        self.had_errors = False
        self.streams = SimpleNamespace(error=[])
        self.cmdlet: str | None = None
        self.parameters: list[tuple[str, object]] = []

    def add_cmdlet(self, cmdlet: str) -> FakePowerShell:
        assert self.cmdlet is None, "one cmdlet per PowerShell object"
        self.cmdlet = cmdlet
        return self

    def add_parameter(self, parameter_name: str, value: Any = None) -> FakePowerShell:
        self.parameters.append((parameter_name, value))
        return self

    def invoke(self) -> list[Any]:
        assert self.cmdlet is not None
        try:
            return self.runspace.run(self.cmdlet, tuple(self.parameters))
        except CmdletFailure as failure:
            self.had_errors = True
            self.streams.error.append(error_record(failure))
            return []


def opener_for(runspace: Runspace, opened: list[PsrpSettings] | None = None) -> Any:
    """A ``SessionOpener`` whose sessions all talk to ``runspace``."""

    @contextmanager
    def opener(settings: PsrpSettings) -> Iterator[PowerShellFactory]:
        if opened is not None:
            opened.append(settings)
        yield lambda: FakePowerShell(runspace)

    return opener
