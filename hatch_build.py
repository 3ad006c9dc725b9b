"""Hatchling build hook: compiles the optional C hot paths.

``otel_streamslo/server/_speedups.c`` (the server middleware's ``send``) and
``otel_streamslo/core/_fastpath.c`` (the stream proxies' per-chunk token count) are built with
setuptools' ``build_ext`` on CPython 3.10+ (``_speedups`` uses ``PyIter_Send``). When they cannot be
built (no compiler, another interpreter, or ``OTEL_STREAMSLO_NO_EXTENSIONS=1``) the wheel is pure
Python and both use their pure-Python paths; nothing else changes. Editable installs build in place.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# module -> source
EXTENSIONS = {
    "otel_streamslo.server._speedups": "otel_streamslo/server/_speedups.c",
    "otel_streamslo.core._fastpath": "otel_streamslo/core/_fastpath.c",
}


def _wanted() -> bool:
    if os.environ.get("OTEL_STREAMSLO_NO_EXTENSIONS", "").strip() not in ("", "0"):
        return False
    return platform.python_implementation() == "CPython" and sys.version_info >= (3, 10)


def _compile(root: Path, build_lib: Path, inplace: bool) -> list[str]:
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    cwd = os.getcwd()
    os.chdir(root)
    try:
        with warnings.catch_warnings():
            # build_ext on a bare Distribution sets up the ``install`` command (and, in place,
            # ``build_py``), which warns that ``setup.py install`` is deprecated; no setup.py runs.
            warnings.simplefilter("ignore")
            modules = [Extension(name, [src]) for name, src in EXTENSIONS.items()]
            dist = Distribution({"name": "otel-streamslo", "ext_modules": modules})
            dist.script_name = "hatch_build.py"
            cmd = build_ext(dist)
            cmd.inplace = inplace
            cmd.build_lib = str(build_lib)
            cmd.build_temp = str(build_lib / "temp")
            cmd.ensure_finalized()
            cmd.run()
            return [str(Path(out).resolve()) for out in cmd.get_outputs()]
    finally:
        os.chdir(cwd)


class SpeedupsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or not _wanted():
            return
        root = Path(self.root)
        editable = version == "editable"
        build_lib = Path(tempfile.mkdtemp(prefix="streamslo-ext-"))
        self._build_lib = build_lib  # removed in finalize(), once the wheel holds the module
        try:
            outputs = _compile(root, build_lib, inplace=editable)
        except Exception as exc:  # a missing compiler must not stop the install
            self.app.display_warning(f"otel-streamslo: C hot path not built ({exc}); using pure Python")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if not editable:
            for out in outputs:
                build_data["force_include"][out] = os.path.relpath(out, build_lib)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        build_lib = getattr(self, "_build_lib", None)
        if build_lib is not None:
            shutil.rmtree(build_lib, ignore_errors=True)
