"""The parameter protocol of scikit-learn estimators, without importing scikit-learn.

``get_params``, ``set_params`` and a short ``repr`` read the constructor's signature, as
scikit-learn's ``BaseEstimator`` does, so ``sklearn.base.clone``, ``GridSearchCV`` and
pipelines accept the forecasters; scikit-learn itself (a second of import time) is only
imported by the code paths that use it.
"""
from __future__ import annotations

import inspect

import numpy as np

__all__ = ["ParamsMixin"]


class ParamsMixin:
    """``get_params``/``set_params``/``repr`` from the ``__init__`` signature.

    Subclasses store every constructor argument unchanged under its own name, as
    scikit-learn requires.
    """

    @classmethod
    def _get_param_names(cls):
        signature = inspect.signature(cls.__init__)
        names = []
        for name, parameter in signature.parameters.items():
            if name == "self":
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise RuntimeError(f"{cls.__name__}.__init__ must name its parameters "
                                   f"(no *args or **kwargs)")
            names.append(name)
        return sorted(names)

    def get_params(self, deep=True):
        """The constructor parameters of this estimator.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of parameters that are estimators, as
            ``name__parameter``.

        Returns
        -------
        dict
        """
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{key}", inner)
                           for key, inner in value.get_params(deep=True).items())
            out[name] = value
        return out

    def set_params(self, **params):
        """Set constructor parameters (``name__parameter`` for a nested estimator's).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a name that is not a parameter.
        """
        valid = self.get_params(deep=True)
        nested = {}
        for key, value in params.items():
            name, _, inner = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; its parameters "
                    f"are {', '.join(self._get_param_names())}")
            if inner:
                nested.setdefault(name, {})[inner] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, inner_params in nested.items():
            valid[name].set_params(**inner_params)
        return self

    def __repr__(self):
        defaults = {name: parameter.default for name, parameter in
                    inspect.signature(type(self).__init__).parameters.items()}
        shown = [f"{name}={value!r}" for name, value in self.get_params(deep=False).items()
                 if not _same(value, defaults.get(name, inspect.Parameter.empty))]
        return f"{type(self).__name__}({', '.join(shown)})"


def _same(value, default):
    """Whether a parameter still has its default (arrays compared by value)."""
    if value is default:
        return True
    try:
        return bool(np.array_equal(value, default)) if isinstance(value, np.ndarray) \
            else bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False
