"""The peers the speed benchmarks measure against, imported with a clear message when missing."""
import sys


def require_torch():
    """The ``torch`` module, or exit with how to install the version the benchmarks use."""
    try:
        import torch
    except ImportError:
        sys.exit("this benchmark times tsrnn against PyTorch, which is not installed: "
                 "pip install torch==2.13.0 (CPU build)")
    return torch
