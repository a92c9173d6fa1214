"""Reading the inputs of the sequence estimators (:mod:`tsrnn.sequence`): windows and targets.

Windows ``X`` come in three layouts:

- 2-D ``(n_samples, T)``: scikit-learn's table, read as windows of T steps of one feature. Its
  columns are its features as scikit-learn counts them (``n_features_in_`` = T, feature names
  from a DataFrame), so it goes through ``sklearn.utils.validation.validate_data`` and later
  calls must have the same columns.
- 3-D ``(n_samples, T, n_features)``: windows of equal length; ``n_features_in_`` counts the
  features per step and later calls may use other lengths.
- a list of 2-D windows ``(n_i, n_features)`` (1-D ones are univariate) of different lengths:
  padded at the end to the longest, each window's length kept, so padding never reaches an
  answer (see :mod:`tsrnn.sequence_training`). A list of equal-length windows is read as the
  array it makes.

Values are checked as scikit-learn checks them (no NaN, inf, complex, sparse or empty input)
and returned as float64; scaling to the network's dtype happens in :func:`scaled`.
"""

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

__all__ = ["Windows", "read_windows", "window_scaling", "scaled", "column_scaling",
           "read_labels", "read_values", "check_same_length", "LAYOUT_HELP"]

LAYOUT_HELP = ("a 2-D array (n_samples, T) of univariate windows, a 3-D array "
               "(n_samples, T, n_features) or a list of 2-D windows (n_i, n_features)")


@dataclass
class Windows:
    """Checked windows, padded at the end.

    Attributes
    ----------
    values : ndarray of shape (N, T, F), float64
        Zero on every window's padding.
    lengths : ndarray of int, shape (N,)
        Real steps per window, in [1, T].
    tabular : bool
        Given as a 2-D table (n_samples, T).
    """

    values: np.ndarray
    lengths: np.ndarray
    tabular: bool

    def __len__(self):
        return len(self.lengths)

    @property
    def n_features(self):
        """Features per time step."""
        return self.values.shape[2]


def _ndim(X):
    """Dimensions of X without converting it for good; "ragged" for a list of windows of
    different shapes."""
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"X is an empty {type(X).__name__}; expected {LAYOUT_HELP}")
        try:
            return np.asarray(X).ndim
        except ValueError:  # numpy refuses inhomogeneous nesting
            return "ragged"
    ndim = getattr(X, "ndim", None)
    return ndim if isinstance(ndim, int) else np.asarray(X).ndim


def read_windows(estimator, X, reset, tabular=None, n_features=None):
    """``X`` as :class:`Windows`, checked.

    Parameters
    ----------
    estimator : scikit-learn estimator
        For a 2-D table, ``validate_data`` sets (``reset``) or compares its ``n_features_in_``
        and ``feature_names_in_``.
    X : array-like or list of array-like
    reset : bool
        True when fitting afresh; then ``tabular`` and ``n_features`` are ignored.
    tabular : bool, optional
        Whether the estimator was fitted on a table (required when not ``reset``).
    n_features : int, optional
        Features per step the estimator was fitted on (required when not ``reset``).

    Returns
    -------
    Windows
    """
    if sparse.issparse(X):
        raise TypeError("X is a sparse matrix; the sequence estimators need dense windows: "
                        f"{LAYOUT_HELP}")
    ndim = _ndim(X)
    if ndim not in (2, 3, "ragged"):
        shape = getattr(X, "shape", np.shape(X) if ndim != "ragged" else None)
        hint = ("; Reshape your data: X.reshape(1, -1) makes it one univariate window"
                if ndim == 1 else "")
        raise ValueError(f"X must be {LAYOUT_HELP}; got a {ndim}-D input of shape {shape}"
                         f"{hint}")
    if not reset and (ndim == 2) != tabular:
        fitted = "a 2-D table (n_samples, T)" if tabular else "3-D windows or a list of them"
        raise ValueError(f"this model was fitted on {fitted}; X must have the same layout, got "
                         f"{'a 2-D table' if ndim == 2 else 'windows'}")
    if ndim == 2:
        table = validate_data(estimator, X, reset=reset, dtype=np.float64)
        lengths = np.full(table.shape[0], table.shape[1], np.intp)
        return Windows(np.ascontiguousarray(table[:, :, None]), lengths, True)
    if ndim == 3:
        windows = _from_array(X)
    else:
        windows = _from_list(X)
    if not reset and windows.n_features != n_features:
        raise ValueError(f"X has {windows.n_features} features per step, but "
                         f"{type(estimator).__name__} is expecting {n_features} features "
                         f"per step as input")
    return windows


def _from_array(X):
    values = check_array(X, dtype=np.float64, allow_nd=True, input_name="X")
    N, T, F = values.shape
    if T == 0 or F == 0:
        raise ValueError(f"X must have at least one time step and one feature per window; "
                         f"got shape {values.shape}")
    return Windows(np.ascontiguousarray(values), np.full(N, T, np.intp), False)


def _from_list(X):
    """Windows of different lengths, padded at the end with zeros."""
    windows = []
    for i, window in enumerate(X):
        name = f"X[{i}]"
        try:
            value = check_array(window, dtype=np.float64, ensure_2d=False, input_name=name)
        except ValueError as error:
            # name the window: some of scikit-learn's messages (empty input) do not
            message = str(error)
            raise ValueError(message if name in message else f"{name}: {message}") from None
        if value.ndim == 1:
            value = value[:, None]
        if value.ndim != 2 or value.shape[1] == 0:
            raise ValueError(f"X[{i}] must be a window of shape (n_steps, n_features) or "
                             f"(n_steps,), got shape {np.shape(window)}")
        if windows and value.shape[1] != windows[0].shape[1]:
            raise ValueError(f"every window must have the same features per step: X[0] has "
                             f"{windows[0].shape[1]}, X[{i}] has {value.shape[1]}")
        windows.append(value)
    lengths = np.array([len(w) for w in windows], np.intp)
    values = np.zeros((len(windows), lengths.max(), windows[0].shape[1]))
    for i, window in enumerate(windows):
        values[i, :len(window)] = window
    return Windows(values, lengths, False)


def _real_steps(windows):
    """(sum of lengths, F): every window's real steps, padding left out."""
    mask = np.arange(windows.values.shape[1])[None, :] < windows.lengths[:, None]
    return windows.values[mask]


def column_scaling(rows):
    """Mean and scale of each column of ``rows`` (n, K); a scale of 1 for a column that is
    constant (to rounding), which standardising would otherwise blow up."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    return mean, np.where(scale > tiny, scale, 1.0)


def window_scaling(windows):
    """Mean and scale (F,) of each feature over every real step of ``windows``."""
    return column_scaling(_real_steps(windows))


def scaled(windows, mean, scale, dtype):
    """``(values - mean) / scale`` in ``dtype``, zero on padding: (N, T, F)."""
    values = (windows.values - mean) / scale
    values[np.arange(values.shape[1])[None, :] >= windows.lengths[:, None]] = 0.0
    return values.astype(dtype)


def read_labels(y):
    """Class labels as a 1-D array: a column vector is flattened with scikit-learn's
    DataConversionWarning; NaN, inf and continuous values are refused."""
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    return y


def read_values(y):
    """Real targets as float64 (n,) or (n, K), finite."""
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(f"y must have shape (n_samples,) or (n_samples, n_outputs), got "
                         f"{y.shape}")
    return y


def check_same_length(windows, y):
    """A ValueError unless there is one target per window."""
    check_consistent_length(windows.lengths, y)
