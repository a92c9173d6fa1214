"""Declare tsrnn's Cython extensions; everything else lives in pyproject.toml."""
import glob
import os
import platform
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Debug builds (TSRNN_CYTHON_DEBUG=1) turn bounds and initialisation checks back on.
DEBUG = os.environ.get("TSRNN_CYTHON_DEBUG", "0") == "1"
# TSRNN_SIMD_VARIANTS=0 builds the baseline kernels only (e.g. the sanitizer build in CI).
VARIANTS = os.environ.get("TSRNN_SIMD_VARIANTS", "1") != "0"

# Flags the kernels benefit from, each kept only if the compiler accepts it. None of them
# changes a result: no -ffast-math, no -march=native (wheels must run on any CPU of the
# architecture).
#  -fno-trapping-math: we never enable floating-point traps; this lets GCC vectorise the
#      branch-free clamps in _fastmath.h (Clang assumes it by default).
#  --param vect-max-version-for-alias-checks: the gate loops touch up to eight arrays; GCC's
#      default budget of runtime alias checks (10) is too small to vectorise them.
OPTIONAL_FLAGS = [["-fno-trapping-math"], ["--param", "vect-max-version-for-alias-checks=64"]]

# On x86-64 the kernels are also compiled for wider vector units; tsrnn._kernels picks the
# widest one the CPU supports at import time (a baseline build is always there).
X86_64 = platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32"
SIMD_VARIANTS = {
    "_avx2": ["-mavx2", "-mfma"],
    "_avx512": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"],
} if X86_64 and VARIANTS else {}


class BuildExt(build_ext):
    """build_ext that adds the optional flags the compiler supports, OpenMP among them, and
    compiles the extensions in parallel (one job per core unless ``-j`` says otherwise)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            extra = [arg for flags in OPTIONAL_FLAGS if self._accepts(flags) for arg in flags]
            # OpenMP runs batch slices in parallel; without it the same loops run serially.
            openmp = ["-fopenmp"] if self._accepts(["-fopenmp"], link=True) else []
            for extension in self.extensions:
                extension.extra_compile_args = extension.extra_compile_args + extra + openmp
                extension.extra_link_args = extension.extra_link_args + openmp
        # a SIMD variant the compiler cannot target is left out; the baseline always builds
        self.extensions = [ext for ext in self.extensions
                           if not getattr(ext, "simd_flags", None) or self._accepts(ext.simd_flags)]
        super().build_extensions()

    def _accepts(self, flags, link=False):
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "probe.c")
            with open(source, "w") as handle:
                handle.write("int main(void) { return 0; }\n")
            try:
                objects = self.compiler.compile([source], output_dir=folder,
                                                extra_postargs=["-Werror"] + flags)
                if link:
                    self.compiler.link_executable(objects, os.path.join(folder, "probe"),
                                                  extra_postargs=flags)
            except Exception:
                return False
        return True


compile_args = ["-O3"] if sys.platform != "win32" else ["/O2"]
directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
}
sources = sorted(glob.glob("tsrnn/_kernels/*.pyx"))


def kernels(package="", flags=()):
    """Every kernel as tsrnn._kernels[.<package>].<module>, compiled with ``flags``.

    Each variant is cythonized on its own (into build/cython/<package>) so that its module
    carries its own name: modules that shared one generated C file would all register under
    the baseline's name.
    """
    names = [os.path.basename(path)[:-4] for path in sources]
    prefix = "tsrnn._kernels" + (f".{package}" if package else "")
    # debug C (bounds checks) goes elsewhere: cythonize reuses C files by date, not directives
    folder = os.path.join("build", "cython-debug" if DEBUG else "cython", package or "baseline")
    fresh, stale = [], []
    for name, path in zip(names, sources):
        if package and name == "_cpu":
            continue
        extension = Extension(f"{prefix}.{name}", [path],
                              include_dirs=[np.get_include(), "tsrnn/_kernels"],
                              extra_compile_args=compile_args + list(flags))
        generated = os.path.join(folder, path[:-4] + ".c")
        if _generated_is_current(generated, path):
            extension.sources = [generated]
            fresh.append(extension)
        else:
            stale.append((extension, generated, path))
    built = fresh
    if stale:
        built += cythonize([e for e, _, _ in stale], compiler_directives=directives,
                           build_dir=folder, nthreads=os.cpu_count() or 1)
        for _, generated, path in stale:
            _record_key(generated, path)
    for extension in built:
        extension.simd_flags = list(flags)
    return built


def _source_key(pyx):
    """What the C generated from ``pyx`` depends on: its text, the package's own .pxd and .h
    files, Cython's version and the directives (not the dates of the installed packages' .pxd
    files, which a fresh build environment renews: comparing dates there made every
    ``pip install`` translate and compile everything again)."""
    import hashlib

    import Cython

    digest = hashlib.sha256()
    digest.update(f"{Cython.__version__} {sorted(directives.items())}".encode())
    for name in [pyx] + sorted(glob.glob("tsrnn/_kernels/*.pxd") + glob.glob("tsrnn/_kernels/*.h")):
        with open(name, "rb") as handle:
            digest.update(name.encode() + b"\0" + handle.read())
    return digest.hexdigest()


def _generated_is_current(generated, pyx):
    try:
        with open(generated + ".key") as handle:
            return os.path.exists(generated) and handle.read() == _source_key(pyx)
    except OSError:
        return False


def _record_key(generated, pyx):
    if os.path.exists(generated):
        with open(generated + ".key", "w") as handle:
            handle.write(_source_key(pyx))


extensions = kernels()
for package, flags in SIMD_VARIANTS.items():
    extensions += kernels(package, flags)

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
