"""The readers and the analyzer compiled by mypyc (``hatch_build.py``, the wheel's build hook) work as the pure-Python
ones do: with the compiled modules of a wheel built as an install builds it, a copy of the tree gives byte-identical
reports for every capture of the corpus, the lab's HAR, .mitm and capture (in one process, and with ``--jobs``, whose
items and results cross processes pickled), and the tests of those modules pass against it; without a C compiler the
wheel is pure Python. Skips, saying
why, where uv or a C compiler is absent (the pure-Python path is what every other test runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hatch_build import PURE, compiler_missing
from tests.corpus import REPO, corpus_dir
from tests.test_install import UV

pytestmark = pytest.mark.slow

_SUBSET = [
    "tests/sources/pcap",
    "tests/sources/test_har.py",
    "tests/sources/test_json_stream.py",
    "tests/sources/test_mitm_state.py",
    "tests/sources/test_mitmflows.py",
    "tests/sources/test_tnetstring.py",
    "tests/sources/test_bounded_memory.py",
    "tests/sources/test_unknown_times.py",
    "tests/checks",
    "tests/test_analyze_hostile.py",
    "tests/test_analyze_http.py",
    "tests/test_analyze_lab.py",
    "tests/test_analyze_tokens.py",
    "tests/test_audience.py",
    "tests/test_bodies.py",
    "tests/test_body_errors.py",
    "tests/test_diagnostics_variants.py",
    "tests/test_edges.py",
    "tests/test_frozen.py",
    "tests/test_hostile_round_two.py",
    "tests/test_hosts.py",
    "tests/test_http_auth.py",
    "tests/test_inventory.py",
    "tests/test_jsonable.py",
    "tests/test_lru.py",
    "tests/test_redact.py",
    "tests/test_rules.py",
    "tests/test_run.py",
    "tests/test_tally.py",
    "tests/test_timeline.py",
    "tests/test_token_checks.py",
    "tests/test_tokens.py",
    "tests/test_trust.py",
    "tests/test_verify.py",
    "tests/test_verify_corpus.py",
    "tests/test_verify_pyjwt.py",
    "tests/fuzz/test_fuzz_pcap.py",
    "tests/fuzz/test_fuzz_tls.py",
    "tests/fuzz/test_fuzz_http_heads.py",
    "tests/fuzz/test_fuzz_timeline.py",
    "tests/fuzz/test_fuzz_har.py",
    "tests/fuzz/test_fuzz_mitm.py",
    "tests/fuzz/test_fuzz_tnetstring.py",
    "tests/fuzz/test_fuzz_auth_headers.py",
    "tests/fuzz/test_fuzz_jwt.py",
    "tests/fuzz/test_fuzz_bodies.py",
    "tests/fuzz/test_fuzz_inventory.py",
    "tests/fuzz/test_fuzz_trust.py",
    # Not the TLS tests that drive real TLS stacks (a minute, and the TLS code is not compiled): the corpus's TLS
    # capture, decrypted both ways, is compared below.
    "--ignore-glob=*_live.py",
    "--ignore=tests/sources/pcap/tls/test_keylog_clients.py",
]
"""The tests of the compiled modules (``hatch_build.COMPILED``), their fuzz harnesses and the hostile-input tests, run
again inside the compiled copy: compiled code checks annotations at run time, so what hostile input cannot break in
pure Python has to be shown again there."""


def _build(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert UV is not None
    inherited = {name: value for name, value in os.environ.items() if name != PURE}  # compiled unless told here
    return subprocess.run(
        [UV, "build", "--wheel", "--out-dir", str(out), str(REPO)],
        env={**inherited, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tree with the compiled modules of the wheel a regular install builds (``uv build``, as
    ``uv tool install`` and ``pip install`` build it), put beside their sources as installing the wheel puts them."""
    if UV is None:
        pytest.skip("uv is not on PATH: the wheel is built with it")
    if compiler_missing() is not None:
        pytest.skip(f"the compiled reader cannot be built here: {compiler_missing()}")
    out = tmp_path_factory.mktemp("wheel")
    done = _build(out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the readers and the analyzer are compiled" in done.stderr
    (wheel,) = out.glob("*.whl")
    assert not wheel.name.endswith("-py3-none-any.whl"), wheel.name  # a platform wheel
    tree = tmp_path_factory.mktemp("compiled") / "tree"
    copied = subprocess.run(
        [sys.executable, str(REPO / "bench" / "compiled.py"), str(tree), "--wheel", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    return tree


def test_without_a_compiler_the_wheel_is_pure_python(tmp_path: Path) -> None:
    if UV is None:
        pytest.skip("uv is not on PATH: the wheel is built with it")
    done = _build(tmp_path, CC=str(tmp_path / "no-such-cc"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the readers and the analyzer are not compiled (no C compiler" in done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert not [name for name in archive.namelist() if name.endswith((".so", ".pyd"))]
        assert "inspector/sources/pcap/http1.py" in archive.namelist()


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Run from ``cwd`` with ``-m``: its ``inspector`` comes first on the path, ahead of the installed (editable) one.
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )


def _captures() -> list[Path]:
    found = [REPO / "captures" / "lab" / "lab.pcapng"]
    corpus = corpus_dir()
    if corpus is not None:
        found += sorted(p for p in (corpus / "pcap").rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))
    return found


def test_the_copy_runs_the_compiled_modules(compiled_tree: Path) -> None:
    probe = "from inspector.sources.pcap import http1, reader\nprint(http1.__file__, reader.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=compiled_tree, capture_output=True, text=True, check=True)
    files = done.stdout.split()
    assert len(files) == 2
    assert all(name.startswith(str(compiled_tree)) and name.endswith(".so") for name in files), files


def test_every_capture_gives_the_pure_report(compiled_tree: Path) -> None:
    captures = _captures()
    if len(captures) == 1:
        pytest.skip("the shared corpus (../shared/corpus or $OAUTH_INSPECTOR_CORPUS) is absent: only the lab is read")
    assert len(captures) > 40
    # One run over all of them (one timeline; damaged files included), and each file on its own timeline.
    for mode in ([], ["--separately"]):
        pure = _run(REPO, "analyze", *map(str, captures), "--format", "json", *mode)
        compiled = _run(compiled_tree, "analyze", *map(str, captures), "--format", "json", *mode)
        assert pure.returncode in (1, 3), pure.stderr
        assert '"exchanges":[\n{' in pure.stdout
        assert (compiled.returncode, compiled.stdout, compiled.stderr) == (pure.returncode, pure.stdout, pure.stderr)


def test_the_labs_har_mitm_and_saz_give_the_pure_report_in_every_format(compiled_tree: Path) -> None:
    lab = REPO / "captures" / "lab"
    trust = ["--cert", str(lab / "OAuthCert.cer"), "--metadata", str(lab / "acs-metadata.json")]
    trust += ["--realm", "5de110f8-2e0f-4d45-891d-bcf2218e253d"]
    inputs = [lab / "lab.har", lab / "lab.mitm"]
    corpus = corpus_dir()
    if corpus is not None:
        inputs += sorted((corpus / "saz").glob("*.saz"))
    for path in inputs:
        for output_format in ("json", "jsonl", "sarif", "table"):
            args = ["analyze", str(path), *trust, "--format", output_format]
            pure = _run(REPO, *args)
            compiled = _run(compiled_tree, *args)
            assert pure.returncode in (0, 1), pure.stderr  # 1: the lab's errors, on purpose
            assert pure.stdout.strip()
            assert (compiled.returncode, compiled.stdout, compiled.stderr) == (
                pure.returncode,
                pure.stdout,
                pure.stderr,
            )


def test_a_tls_capture_decrypts_to_the_pure_report(compiled_tree: Path) -> None:
    corpus = corpus_dir()
    if corpus is None:
        pytest.skip("the shared corpus (../shared/corpus or $OAUTH_INSPECTOR_CORPUS) is absent")
    tls = corpus / "tls" / "wireshark-notes"
    args = ["analyze", str(tls / "tls12-cbc-suites.pcapng"), "--keylog", str(tls / "tls12-cbc-suites.keys")]
    pure = _run(REPO, *args, "--format", "json")
    compiled = _run(compiled_tree, *args, "--format", "json")
    assert '"tls":{' in pure.stdout
    assert (compiled.returncode, compiled.stdout, compiled.stderr) == (pure.returncode, pure.stdout, pure.stderr)


def test_jobs_pickle_the_compiled_items_across_processes(compiled_tree: Path) -> None:
    lab = REPO / "captures" / "lab" / "lab.pcapng"
    pure = _run(REPO, "analyze", str(lab), "--format", "jsonl")
    for jobs in ("2", "3"):
        compiled = _run(compiled_tree, "analyze", str(lab), "--format", "jsonl", "--jobs", jobs)
        assert (compiled.returncode, compiled.stdout) == (pure.returncode, pure.stdout), compiled.stderr
    # Several files judged in worker processes: results, findings and inventories cross back pickled.
    files = [str(lab.with_suffix(suffix)) for suffix in (".har", ".mitm", ".pcapng")]
    pure = _run(REPO, "analyze", *files, "--separately", "--format", "jsonl")
    compiled = _run(compiled_tree, "analyze", *files, "--separately", "--format", "jsonl", "--jobs", "2")
    assert pure.returncode == 1 and pure.stdout.count('"type":"exchange"') > 60
    assert (compiled.returncode, compiled.stdout) == (pure.returncode, pure.stdout), compiled.stderr


def test_the_compiled_modules_tests_pass_against_them(compiled_tree: Path) -> None:
    env = dict(os.environ)
    corpus = corpus_dir()
    if corpus is not None:
        env["OAUTH_INSPECTOR_CORPUS"] = str(corpus)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not pure_python", *_SUBSET],
        cwd=compiled_tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-6000:]
    assert " passed" in done.stdout.splitlines()[-1]
