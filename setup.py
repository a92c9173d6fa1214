"""Declare tsrnn's Cython extensions; everything else lives in pyproject.toml."""
import glob
import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# Debug builds (TSRNN_CYTHON_DEBUG=1) turn bounds and initialisation checks back on.
DEBUG = os.environ.get("TSRNN_CYTHON_DEBUG", "0") == "1"

compile_args = ["-O3"] if sys.platform != "win32" else ["/O2"]

extensions = [
    Extension(
        f"tsrnn._kernels.{os.path.basename(path)[:-4]}",
        [path],
        include_dirs=[np.get_include()],
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
)
