"""Turn a missing compiled extension into a message that says how to build it."""

_MESSAGE = """tsrnn's compiled kernels could not be imported ({error}).

If you are running from a source checkout, build the package first:
    pip install .          (or, for development, pip install -e .)
and run Python from outside the source folder, so that the installed package is the one imported.
"""


def check_build():
    """Import one compiled kernel and raise a clear ImportError if it is missing."""
    try:
        from tsrnn._kernels import lstm  # noqa: F401
    except ImportError as error:
        raise ImportError(_MESSAGE.format(error=error)) from error
