"""verify-oauth bundles: the healthy lab bundle with hostile values put anywhere (dates before the first moment,
thousand-deep ``{"value": …}`` wrappers, NaN, lone surrogates, certificates that cannot be read) and mutated bytes,
through the whole command: exit 0/1 (checks) or 2/3 (a usage error or an unreadable bundle), never 4; its JSON is
strict, its JUnit parses, its table is terminal-safe."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from inspector.verifyoauth import cli
from inspector.verifyoauth.bundle import BundleError, parse_bundle
from tests.fuzz.harness import Timed, assert_terminal_safe, fuzz, mutated
from tests.hostile import good_certificate_der, hostile_certificates, strict_json

_DATA = Path(__file__).parents[1] / "verifyoauth" / "data"
_DEEP = '{"value":' * 1000 + '"2026-01-01T00:00:00Z"' + "}" * 1000
_HOSTILE = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "/Date(-99999999999999)/",
        "@DEEP@",
        "\ud800",
        "\x1b[2J",
        1e400,
        -1e400,
        None,
        [],
        {},
        True,
        base64.b64encode(hostile_certificates()["unknown-key-algorithm"]).decode(),
        list(good_certificate_der()[:8]),
    ]
)


def _bundle_text() -> str:
    text = (_DATA / "bundle-healthy.json").read_text(encoding="utf-8")
    raw = base64.b64encode(good_certificate_der()).decode()
    return text.replace("@RAW@", raw).replace('"@', '"').replace('@"', '"')


BUNDLE: dict[str, Any] = json.loads(_bundle_text())


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, (*path, index))
    return out


PATHS = [p for p in _paths(BUNDLE) if p]


def _with(document: Any, path: tuple[object, ...], value: object) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return copy


def _run(text: bytes, output_format: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bundle.json"
        path.write_bytes(text)
        with Timed():
            result = CliRunner().invoke(cli.main, ["--exchange-config", str(path), "--format", output_format])
    assert result.exit_code in (0, 1, 2, 3), (result.exit_code, result.stderr[-400:])
    if result.exit_code in (0, 1):
        if output_format == "json":
            strict_json(result.stdout)
        elif output_format == "junit":
            ET.fromstring(result.stdout.encode("utf-8"))  # noqa: S314 - our own output
        else:
            assert_terminal_safe(result.stdout.replace("\n", " "))


@fuzz(40)
@given(
    st.lists(st.tuples(st.sampled_from(PATHS), _HOSTILE), min_size=1, max_size=4),
    st.sampled_from(["json", "junit", "table"]),
)
def test_hostile_values_anywhere(edits: list[tuple[tuple[object, ...], object]], output_format: str) -> None:
    document: Any = BUNDLE
    for path, value in edits:
        try:
            document = _with(document, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced a container on this path
    text = json.dumps(document).replace('"@DEEP@"', _DEEP).encode("utf-8", "surrogatepass")
    _run(text, output_format)


@fuzz(25)
@given(mutated([_bundle_text().encode()], max_edits=5))
def test_mutated_bundle_bytes(data: bytes) -> None:
    _run(data, random.Random(len(data)).choice(["json", "junit", "table"]))


@fuzz(100)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*BUNDLE, "value", "x"]), inner, max_size=4)
        ),
        max_leaves=15,
    )
)
def test_parse_bundle_is_total(document: object) -> None:
    with contextlib.suppress(BundleError):
        parse_bundle(document, "fuzz.json")
