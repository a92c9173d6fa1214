"""Declare tsrnn's Cython extensions; everything else lives in pyproject.toml."""
import glob
import os
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Debug builds (TSRNN_CYTHON_DEBUG=1) turn bounds and initialisation checks back on.
DEBUG = os.environ.get("TSRNN_CYTHON_DEBUG", "0") == "1"

# Flags the kernels benefit from, each kept only if the compiler accepts it. None of them
# changes a result: no -ffast-math, no -march=native (wheels must run on any CPU of the
# architecture).
#  -fno-trapping-math: we never enable floating-point traps; this lets GCC vectorise the
#      branch-free clamps in _fastmath.h (Clang assumes it by default).
#  --param vect-max-version-for-alias-checks: the gate loops touch up to eight arrays; GCC's
#      default budget of runtime alias checks (10) is too small to vectorise them.
OPTIONAL_FLAGS = [["-fno-trapping-math"], ["--param", "vect-max-version-for-alias-checks=64"]]


class BuildExt(build_ext):
    """build_ext that adds the optional flags the compiler supports."""

    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            extra = [arg for flags in OPTIONAL_FLAGS if self._accepts(flags) for arg in flags]
            for extension in self.extensions:
                extension.extra_compile_args = extension.extra_compile_args + extra
        super().build_extensions()

    def _accepts(self, flags):
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "probe.c")
            with open(source, "w") as handle:
                handle.write("int main(void) { return 0; }\n")
            try:
                self.compiler.compile([source], output_dir=folder,
                                      extra_postargs=["-Werror"] + flags)
            except Exception:
                return False
        return True


compile_args = ["-O3"] if sys.platform != "win32" else ["/O2"]

extensions = [
    Extension(
        f"tsrnn._kernels.{os.path.basename(path)[:-4]}",
        [path],
        include_dirs=[np.get_include(), "tsrnn/_kernels"],
        extra_compile_args=compile_args,
    )
    for path in sorted(glob.glob("tsrnn/_kernels/*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": False,
            "initializedcheck": DEBUG,
            "cdivision": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
