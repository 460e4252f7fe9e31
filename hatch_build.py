"""The wheel's build hook: the readers and the analyzer compiled by mypyc where they can be (issue 15, lever 4), pure
Python where they cannot.

A regular wheel (``uv tool install``, ``pip install``, ``uv build``) gets the ``COMPILED`` modules as extension
modules beside their sources when a C compiler and the Python headers are at hand; without them, or when anything in
the build fails, a line on stderr says so and the wheel is the pure-Python one. An editable install (``uv sync``, the
quick start) is never compiled: an extension module beside its ``.py`` is imported first, so a stale one would run
instead of an edit. ``OAUTH_INSPECTOR_PURE=1`` builds the pure wheel on purpose.

The modules are compiled in a temporary copy of the package, never in the source tree. ``bench/compiled.py`` uses
the same functions for a compiled copy of a whole tree (benchmarks, ``tests/test_compiled.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface  # type: ignore[import-not-found]
except ImportError:  # imported outside a build (bench/compiled.py): only the functions are used
    BuildHookInterface = object

COMPILED = (
    # The capture reader's walk from record to exchange: where a capture's time goes (not its TLS decryption, whose
    # cost is in ``cryptography``, in the ``tls`` subpackage left out).
    "inspector/sources/pcap/*.py",
    # The other readers' walk from entry to exchange.
    "inspector/sources/har.py",
    "inspector/sources/json_stream.py",
    "inspector/sources/mitm_state.py",
    "inspector/sources/mitmflows.py",
    "inspector/sources/tnetstring.py",
    # The judge: every exchange of every source passes through these.
    "inspector/analyze.py",
    "inspector/checks/*.py",
    "inspector/audience.py",
    "inspector/bodies.py",
    "inspector/body_errors.py",
    "inspector/hosts.py",
    "inspector/http_auth.py",
    "inspector/inventory.py",
    "inspector/jsonable.py",
    "inspector/lru.py",
    "inspector/redact.py",
    "inspector/rules.py",
    "inspector/tally.py",
    "inspector/token_checks.py",
    "inspector/tokens.py",
    "inspector/trust.py",
    "inspector/verify.py",
)
"""The modules compiled (globs relative to the tree; a package's ``__init__`` never is). Not the model
(``inspector/model.py``): its classes are made by every reader from values it has not checked yet, and a compiled
class refuses at run time a value its annotation does not allow, where the pure one carries it to a clear
verdict."""
GROUP = "inspector.compiled"
"""The compiled modules' shared library, ``<GROUP>__mypyc``, lives in the top package (mypyc's default puts it at
the top level of site-packages under a hash name, where an addon loaded from a file cannot import it). Not inside
a package of them: every compiled module imports the library, and so its package first; a compiled module outside
that package (the model, say) would then run the reader package's ``__init__`` in the middle of its own import."""
PURE = "OAUTH_INSPECTOR_PURE"
_MYPY_CONFIG = "[mypy]\nno_site_packages = True\nignore_missing_imports = True\n"
"""Third-party types are never read, wherever the build runs (they become ``Any``): the build environment needs no
runtime dependency, and the compiled code checks at run time only our own annotations. A third party's own can be
narrower than what it hands out (mitmproxy's ``peername`` is annotated ``tuple[str, int]``; an IPv6 socket gives four
items, a crafted flow file anything), and compiled code would refuse such a value where the pure code reads it."""


def compiled_modules(tree: Path) -> list[str]:
    """The module files compiled, relative to ``tree``."""
    found = {path.relative_to(tree).as_posix() for pattern in COMPILED for path in tree.glob(pattern)}
    return sorted(name for name in found if not name.endswith("/__init__.py"))


def compiler_missing() -> str | None:
    """Why no extension can be built here (checked before mypy's minute of work), or ``None``."""
    command = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    if not command or shutil.which(command[0]) is None:
        return f"no C compiler ({command[0] if command else 'CC is empty'})"
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        return f"no Python headers ({include}/Python.h)"
    return None


def compile_in_place(tree: Path, *, jobs: int = 2) -> list[Path]:
    """Compile ``compiled_modules(tree)`` where they are (``tree`` is a copy); the extension modules made. Raises
    ``RuntimeError`` saying why when it cannot."""
    missing = compiler_missing()
    if missing:
        raise RuntimeError(missing)
    (tree / "mypy.ini").write_text(_MYPY_CONFIG)  # read ahead of the project's pyproject.toml
    script = (
        "from setuptools import setup\n"
        "from mypyc.build import mypycify\n"
        f"setup(name='oauth-inspector-compiled', packages=[], script_args=['build_ext', '--inplace', '-j', '{jobs}'],"
        f" ext_modules=mypycify({compiled_modules(tree)!r}, opt_level='3', group_name={GROUP!r}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tree, env=env, capture_output=True, text=True, check=False, timeout=1800
    )
    shutil.rmtree(tree / "build", ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"mypyc failed: {(done.stdout + done.stderr)[-2000:]}")  # mypy reports on stdout
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    names = [*compiled_modules(tree), GROUP.replace(".", "/") + "__mypyc.py"]  # each module, and the group's library
    made = [tree / (name.removesuffix(".py") + suffix) for name in names]
    absent = [path.name for path in made if not path.is_file()]
    if absent:
        raise RuntimeError(f"mypyc did not make {', '.join(absent)}")
    return made


class CompiledReaderHook(BuildHookInterface):  # type: ignore[misc]
    """Adds the compiled modules to a regular wheel (see the module's docstring)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable" or os.environ.get(PURE):
            return
        work = Path(tempfile.mkdtemp(prefix="oauth-inspector-mypyc-"))
        self._work = work
        try:
            shutil.copytree(Path(self.root) / "inspector", work / "inspector", ignore=_not_sources)
            made = compile_in_place(work)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            print(
                f"oauth-inspector: the readers and the analyzer are not compiled ({exc}); the wheel is pure Python",
                file=sys.stderr,
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for path in made:
            build_data["force_include"][str(path)] = path.relative_to(work).as_posix()
        print(
            f"oauth-inspector: the readers and the analyzer are compiled ({len(made)} extension modules)",
            file=sys.stderr,
        )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:  # noqa: ARG002
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _not_sources(_folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__" or name.endswith((".so", ".pyd", ".pyc"))]
