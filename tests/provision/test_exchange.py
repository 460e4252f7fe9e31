"""The Exchange executor's reading of what remoting returns: identities in either form, Exchange's not-found
errors (as real pypsrp error records), cmdlets outside the account's roles, and a session that breaks."""

from __future__ import annotations

from typing import Any

import pytest

from inspector.provision.exchange import CmdletError, ExchangeExecutor, PsrpShell, same_identity
from inspector.provision.state import StepFailed
from inspector.provision.steps import STEP_3, Ensure
from tests.doubles.psrp import CmdletFailure, FakePowerShell, obj
from tests.provision.conftest import inputs

DN = "CN=SfBOnline-ApplicationAccount,CN=Users,DC=fabrikam,DC=com"
CANONICAL = "fabrikam.com/Users/SfBOnline-ApplicationAccount"


@pytest.mark.parametrize(
    ("found", "wanted", "same"),
    [
        (CANONICAL, CANONICAL.upper(), True),
        (DN, CANONICAL, True),
        ({"DistinguishedName": DN, "Name": "SfBOnline-ApplicationAccount"}, CANONICAL, True),
        ("fabrikam.com/Users/Someone-Else", CANONICAL, False),
        (None, CANONICAL, False),
    ],
)
def test_identities_in_either_form(found: object, wanted: str, same: bool) -> None:
    assert same_identity(found, wanted) is same


class Scripted:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def run(self, cmdlet: str, parameters: tuple[tuple[str, object], ...]) -> list[Any]:  # noqa: ARG002
        answer = self.answers[cmdlet]
        if isinstance(answer, Exception):
            raise answer
        return list(answer)


def shell(answers: dict[str, Any]) -> PsrpShell:
    runspace = Scripted(answers)
    return PsrpShell(lambda: FakePowerShell(runspace))


def test_not_found_is_absence_and_other_errors_are_not() -> None:
    gone = CmdletFailure(
        "The operation couldn't be performed because object 'x' couldn't be found on 'dc01'.",
        fq_error="[FailureCategory=Cmdlet-ManagementObjectNotFoundException] 1,GetMailUser",
    )
    with pytest.raises(CmdletError) as raised:
        shell({"Get-MailUser": gone}).invoke("Get-MailUser", ())
    assert raised.value.not_found and not raised.value.broken
    denied = CmdletFailure("Active Directory operation failed: Access is denied.", reason="ADOperationException")
    with pytest.raises(CmdletError) as raised:
        shell({"Get-MailUser": denied}).invoke("Get-MailUser", ())
    assert not raised.value.not_found and "Access is denied" in str(raised.value)
    with pytest.raises(CmdletError) as raised:
        shell({"Get-MailUser": ConnectionResetError("reset by peer")}).invoke("Get-MailUser", ())
    assert raised.value.broken and "closed the connection (reset)" in str(raised.value)  # said in words


def test_answers_are_flattened_and_bounded() -> None:
    many = [obj("x", Name=f"n{i}") for i in range(5000)]
    found = shell({"Get-PartnerApplication": many}).invoke("Get-PartnerApplication", ())
    assert len(found) == 1000 and found[0] == {"Name": "n0"}


def test_probe_errors_stop_with_a_remedy() -> None:
    action = STEP_3.actions[0]
    assert isinstance(action, Ensure)
    unknown = CmdletFailure("The term 'Get-PartnerApplication' is not recognized as the name of a cmdlet, function")
    executor = ExchangeExecutor(shell({"Get-PartnerApplication": unknown}), inputs())
    with pytest.raises(StepFailed) as raised:
        executor.survey(action)
    assert raised.value.action_id == "3.1"
    assert "Get-ManagementRole -Cmdlet Get-PartnerApplication" in raised.value.remedy
