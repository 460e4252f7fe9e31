"""The plan as JSON (``provision plan --format json``): the steps as data, commands written by ``render_ps1``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inspector import __version__
from inspector.provision.render_ps1 import SCRIPT_NAMES, command_text, condition_text
from inspector.provision.render_text import action_lines
from inspector.provision.state import ActionState
from inspector.provision.steps import Action, Ensure, Plan
from inspector.remote.graph import CLOUDS
from inspector.remote.psjson import iso

FORMAT = "oauth-inspector.provision.plan"
VERSION = 1


def _action(plan: Plan, action: Action, state: ActionState | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": action.id, "title": action.title, "kind": type(action).__name__}
    if isinstance(action, Ensure):
        out |= {
            "guard": command_text(action.probe, plan.inputs, probe=True),
            "done_when": condition_text(action.done),
            "change": command_text(action.change, plan.inputs),
            "refusals": [
                {"when": condition_text(r.when), "message": r.message, "remedy": r.remedy} for r in action.refusals
            ],
        }
    else:
        out["lines"] = [{"label": label, "text": text} for label, text in action_lines(plan, action)]
    if state is not None:
        out["state"] = {"status": state.status, "detail": state.detail, "remedy": state.remedy}
    return out


def plan_json(plan: Plan, states: Mapping[str, ActionState] | None = None) -> dict[str, Any]:
    inputs = plan.inputs
    cert = inputs.certificate
    cloud = CLOUDS[inputs.cloud]
    return {
        "format": FORMAT,
        "version": VERSION,
        "tool_version": __version__,
        "inputs": {
            "domain": inputs.domain,
            "domain_controller": inputs.domain_controller,
            "tenant": inputs.tenant,
            "cloud": inputs.cloud,
            "graph": cloud.graph,
            "login": cloud.login,
            "certificate": None
            if cert is None
            else {
                "source": cert.source,
                "subject": cert.subject,
                "thumbprint": cert.thumbprint,
                "not_before": iso(cert.not_before),
                "not_after": iso(cert.not_after),
            },
        },
        "scripts": dict(SCRIPT_NAMES),
        "steps": [
            {
                "number": step.number,
                "title": step.title,
                "target": step.target,
                "plan_only": step.plan_only,
                "note": step.note,
                "seed": list(step.seed),
                "checks": list(step.checks),
                "actions": [_action(plan, a, states.get(a.id) if states else None) for a in step.actions],
            }
            for step in plan.steps
        ],
    }
