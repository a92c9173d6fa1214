"""Many-to-one sequence models as scikit-learn estimators: :class:`RNNClassifier` and
:class:`RNNRegressor`.

Import them from this module (``from tsrnn.sequence import RNNClassifier, RNNRegressor``); they
are not among the names ``tsrnn`` itself re-exports. Each reads a whole window through an RNN,
GRU or LSTM stack (optionally bidirectional), pools its outputs into one vector and maps it with
a linear head: a softmax over the classes, or the target values. Training is in
:mod:`tsrnn.sequence_training`, input checking in ``tsrnn._sequence_input``.

X holds windows: a 3-D array ``(n_samples, T, n_features)``, a list of 2-D windows
``(n_i, n_features)`` of different lengths (padded and masked: padding never changes an
answer), or a 2-D table ``(n_samples, T)`` read as univariate windows of T steps, which is how
scikit-learn's own tools (``check_estimator``, pipelines of 2-D transformers) feed it.
:func:`tsrnn.datasets.make_windows` cuts windows from a long signal.
"""

import contextlib
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from tsrnn._checks import boolean, check_dtype, integer, option, real, validate_params
from tsrnn._input import check_network_bytes, training_bytes
from tsrnn._sequence_input import (check_same_length, column_scaling, read_labels,
                                   read_values, read_windows, scaled, window_scaling)
from tsrnn._threads import blas_single_threaded
from tsrnn.sequence_training import (CELLS, POOLINGS, SequenceNetwork, SequenceTrainer,
                                     TrainingHistory, WindowSet, predict_outputs, softmax,
                                     train)

__all__ = ["RNNClassifier", "RNNRegressor"]


def _random_state(value, name):
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        if value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value}")
        return int(value)
    raise TypeError(f"{name} must be None, an integer, a numpy RandomState or Generator, got "
                    f"{value!r}")


def _verbose(value, name):
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral)
                                               and value >= 0):
        return bool(value)
    raise TypeError(f"{name} must be True, False or a non-negative integer, got {value!r}")


_CONSTRAINTS = {
    "cell": option(*CELLS), "hidden_size": integer(1), "num_layers": integer(1),
    "bidirectional": boolean(), "pooling": option(*POOLINGS), "optimizer": option("adam", "sgd"),
    "learning_rate": real(0, low_open=True), "batch_size": integer(1), "max_epochs": integer(1),
    "clip_norm": real(0, low_open=True, allow_none=True), "early_stopping": boolean(),
    "validation_fraction": real(0, 1, low_open=True, high_open=True),
    "n_iter_no_change": integer(1), "tol": real(0), "warm_start": boolean(),
    "dtype": check_dtype, "random_state": _random_state, "verbose": _verbose,
}
# what partial_fit and warm_start cannot change: the shape of the network
_ARCHITECTURE = ("cell", "hidden_size", "num_layers", "bidirectional", "pooling", "dtype")


def _generator(random_state):
    """A Generator from ``random_state``, scikit-learn style: an int seeds it, a RandomState
    or Generator is drawn from, None takes fresh entropy."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**32, dtype=np.uint64))
    if isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state.integers(2**63))
    return np.random.default_rng(random_state)


@contextlib.contextmanager
def _unchanged_on_error(estimator):
    """Put the estimator's attributes back if the block raises: ``validate_data`` sets
    ``n_features_in_`` and ``feature_names_in_`` before every input has been checked."""
    saved = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


_PARAMETERS = """
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        The recurrent cell (:class:`tsrnn.nn.LSTM`, :class:`~tsrnn.nn.GRU`,
        :class:`~tsrnn.nn.RNN`; tanh).
    hidden_size : int, default=32
        Hidden units per layer and direction.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Also run every layer over the window reversed in time (PyTorch's definition).
    pooling : {"last", "mean"}, default="last"
        What the head reads: ``"last"``, each direction's final hidden state (the forward
        direction's at the window's last step, the reverse direction's at its first step);
        ``"mean"``, the top layer's outputs averaged over the window's steps.
    optimizer : {"adam", "sgd"}, default="adam"
    learning_rate : float, default=1e-3
    batch_size : int, default=32
        Windows per update; every epoch shuffles them with ``random_state``.
    max_epochs : int, default=200
        Most passes over the training windows in :meth:`fit` (:meth:`partial_fit` makes one).
    clip_norm : float or None, default=1.0
        Clip the global gradient norm of every update to this value (None: no clipping).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the windows (stratified by class for the
        classifier when every class allows it), stop when their loss stops improving, and
        keep the parameters of the best validation epoch. Without it, training stops when the
        training loss stops improving.
    validation_fraction : float, default=0.1
        Part of the windows held out, in (0, 1); used with ``early_stopping`` only.
    n_iter_no_change : int, default=10
        Stop after more than this many epochs in a row that fail to improve the watched
        loss by ``tol``.
    tol : float, default=1e-4
    warm_start : bool, default=False
        Continue from the fitted network, scaling and optimiser state in :meth:`fit`
        instead of starting afresh (the architecture parameters must not change).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the network and its kernels; predictions are float64 either way.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the initial weights, the shuffling and the validation split.
    verbose : bool, default=False
        Show a tqdm progress bar over the epochs of :meth:`fit`."""

_ATTRIBUTES = """
    n_features_in_ : int
        Features per time step of 3-D or list windows; for a 2-D table (n_samples, T), its
        columns T, as scikit-learn counts them (later calls must then give T columns).
    feature_names_in_ : ndarray of str
        Column names of a DataFrame table, when it had string names.
    network_ : tsrnn.sequence_training.SequenceNetwork
        The trained network: ``network_.recurrent`` (parameters named as in PyTorch) and
        ``network_.head`` (:class:`tsrnn.nn.Linear`).
    x_mean_, x_scale_ : ndarray of shape (n_step_features,)
        Standardisation of the inputs, per feature over every real step of the training
        windows (from the first call of :meth:`partial_fit`).
    n_iter_ : int
        Epochs run, over every :meth:`fit` (with ``warm_start``) and :meth:`partial_fit`.
    loss_ : float
        Mean training loss of the last epoch.
    loss_curve_ : list of float
        Mean training loss of every epoch.
    best_loss_ : float
        Lowest value in ``loss_curve_``.
    validation_loss_curve_ : list of float or None
        Loss on the held-out windows after every epoch (``early_stopping`` only).
    best_validation_loss_ : float or None
        Its lowest value, whose parameters were kept."""


class _SequenceModel(BaseEstimator):
    """What RNNClassifier and RNNRegressor share: parameters, input reading, training."""

    _loss = None  # the loss of tsrnn.sequence_training.LOSSES the head is trained on

    def __init__(self, cell="lstm", hidden_size=32, num_layers=1, bidirectional=False,
                 pooling="last", optimizer="adam", learning_rate=1e-3, batch_size=32,
                 max_epochs=200, clip_norm=1.0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, warm_start=False, dtype="float32",
                 random_state=None, verbose=False):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ------------------------------------------------------------------ hooks
    def _targets(self, y, continuing, incremental, classes):
        """(training targets, fitted attributes to set on a fresh start)."""
        raise NotImplementedError

    def _output_size(self, state):
        raise NotImplementedError

    def _stratify(self, targets):
        """Labels to stratify the validation split by, or None."""
        return None

    # ------------------------------------------------------------------ fitting
    def _fit(self, X, y, incremental, classes=None):
        """fit (one run of epochs) and partial_fit (one epoch) share this."""
        checked = validate_params(self, _CONSTRAINTS)
        continuing = (incremental or checked["warm_start"]) and hasattr(self, "network_")
        if continuing:
            self._check_architecture(checked)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             f"y is None")
        with _unchanged_on_error(self):
            windows = read_windows(self, X, reset=not continuing,
                                   tabular=getattr(self, "_tabular", None),
                                   n_features=getattr(self, "_step_features", None))
            targets, state = self._targets(y, continuing, incremental, classes)
            check_same_length(windows, targets)
        if continuing:
            self._retune(checked)
        else:
            state.update(self._fresh_model(windows, checked, self._output_size(state)))
            if not windows.tabular:
                self.__dict__.pop("feature_names_in_", None)
            self.__dict__.update(state)
        data = WindowSet(scaled(windows, self.x_mean_, self.x_scale_, self.network_.dtype),
                         windows.lengths, targets)
        if incremental:
            self._history.loss_curve.append(
                self._trainer.epoch(data, checked["batch_size"], self._rng))
        else:
            self._run_epochs(data, checked)
        self._record(checked)
        return self

    def _fresh_model(self, windows, checked, output_size):
        """The fitted attributes of a new model: scaling, network, optimiser, generator."""
        _check_size(checked, windows, output_size)
        rng = _generator(checked["random_state"])
        mean, scale = window_scaling(windows)
        network = SequenceNetwork(checked["cell"], windows.n_features, checked["hidden_size"],
                                  output_size, checked["num_layers"], checked["bidirectional"],
                                  checked["pooling"], checked["dtype"], random_state=rng)
        trainer = SequenceTrainer(network, self._loss, checked["optimizer"],
                                  checked["learning_rate"], checked["clip_norm"])
        state = {"x_mean_": mean, "x_scale_": scale, "network_": network, "_trainer": trainer,
                 "_rng": rng, "_history": TrainingHistory(), "_tabular": windows.tabular,
                 "_step_features": windows.n_features,
                 "_architecture": {name: checked[name] for name in _ARCHITECTURE}}
        if not windows.tabular:
            state["n_features_in_"] = windows.n_features
        return state

    def _check_architecture(self, checked):
        fitted = self._architecture
        changed = [f"{name} ({fitted[name]!r} -> {checked[name]!r})" for name in _ARCHITECTURE
                   if checked[name] != fitted[name]]
        if changed:
            raise ValueError(f"{', '.join(changed)} changed since this model was fitted; "
                             f"partial_fit and warm_start continue the same network: fit with "
                             f"warm_start=False to start afresh")

    def _retune(self, checked):
        """Carry changed training parameters over to the existing optimiser."""
        trainer = self._trainer
        if checked["optimizer"] != trainer.optimizer_name:
            self._trainer = SequenceTrainer(self.network_, self._loss, checked["optimizer"],
                                            checked["learning_rate"], checked["clip_norm"])
            return
        trainer.optimizer.learning_rate = checked["learning_rate"]
        trainer.clip_norm = checked["clip_norm"]

    def _run_epochs(self, data, checked):
        """fit's epochs, with early stopping and a progress bar."""
        train_set, validation = self._split(data, checked)
        bar, report = _progress_bar(self, checked["max_epochs"]) if checked["verbose"] \
            else (None, None)
        try:
            history = train(self._trainer, train_set, checked["batch_size"],
                            checked["max_epochs"], self._rng, validation,
                            checked["n_iter_no_change"], checked["tol"], self._history, report)
        finally:
            if bar is not None:
                bar.close()
        if not history.converged:
            warnings.warn(f"{type(self).__name__}: max_epochs={checked['max_epochs']} reached "
                          f"while the {'validation' if validation else 'training'} loss was "
                          f"still improving; raise max_epochs or learning_rate",
                          ConvergenceWarning)

    def _split(self, data, checked):
        """(training windows, validation windows or None)."""
        if not checked["early_stopping"]:
            return data, None
        n = len(data)
        if n < 2:
            raise ValueError(f"early_stopping holds out validation_fraction of the windows and "
                             f"needs at least 2 of them, got {n} sample")
        labels = self._stratify(data.target)
        n_test = int(np.ceil(checked["validation_fraction"] * n))
        if labels is not None:
            counts = np.bincount(labels)
            counts = counts[counts > 0]
            if counts.min() < 2 or min(n_test, n - n_test) < counts.size:
                labels = None  # too few windows of some class to stratify
        seed = int(self._rng.integers(2**31))
        train_index, validation_index = train_test_split(
            np.arange(n), test_size=checked["validation_fraction"], random_state=seed,
            stratify=labels)
        return data.subset(train_index), data.subset(validation_index)

    def _record(self, checked):
        """Public fitted attributes from the training history."""
        history = self._history
        self.loss_curve_ = list(history.loss_curve)
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_ = min(self.loss_curve_)
        self.n_iter_ = len(self.loss_curve_)
        curve = history.validation_loss_curve
        self.validation_loss_curve_ = list(curve) if curve else None
        self.best_validation_loss_ = min(curve) if curve else None

    # ------------------------------------------------------------------ prediction
    def _outputs(self, X):
        """The head's outputs (n_samples, K) in float64."""
        check_is_fitted(self, "network_")
        windows = read_windows(self, X, reset=False, tabular=self._tabular,
                               n_features=self._step_features)
        data = WindowSet(scaled(windows, self.x_mean_, self.x_scale_, self.network_.dtype),
                         windows.lengths)
        return predict_outputs(self.network_, data)


def _progress_bar(estimator, total):
    """A tqdm bar over epochs and the callback that advances it."""
    from tqdm.auto import tqdm  # here, not at import: it takes a noticeable time

    bar = tqdm(total=total, desc=type(estimator).__name__, unit="epoch")

    def report(loss, validation_loss):
        shown = {"loss": f"{loss:.4g}"}
        if validation_loss is not None:
            shown["val_loss"] = f"{validation_loss:.4g}"
        bar.set_postfix(shown, refresh=False)
        bar.update(1)

    return bar, report


class RNNClassifier(ClassifierMixin, _SequenceModel):
    __doc__ = f"""Classify whole windows with a recurrent network and a softmax head.

    The network reads each window from a zero state; the pooled outputs go through a linear
    head to one logit per class, trained on the cross-entropy (binary problems too: two
    logits). Inputs are standardised per feature from the training windows.

    Parameters
    ----------{_PARAMETERS}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted.{_ATTRIBUTES}

    See Also
    --------
    RNNRegressor : the same network with a regression head.
    tsrnn.datasets.make_windows : windows and labels from a long signal.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.sequence import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 12, 1))              # 60 windows of 12 steps, 1 feature
    >>> y = (X[:, -3:, 0].sum(axis=1) > 0).astype(int)
    >>> clf = RNNClassifier(hidden_size=8, learning_rate=0.02, max_epochs=30,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> windows = [rng.normal(size=(n, 1)) for n in (5, 9, 12)]   # different lengths
    >>> clf.predict(windows).shape
    (3,)
    """

    _loss = "cross_entropy"

    @blas_single_threaded
    def fit(self, X, y):
        """Train on windows X and their labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, n_features) or (n_samples, T), or list of
            array-like of shape (n_i, n_features)
        y : array-like of shape (n_samples,)
            At least two classes.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    @blas_single_threaded
    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y, continuing from the current network (or a new one).

        Parameters
        ----------
        X, y : as in :meth:`fit`
            y may hold one class only, or some of ``classes_``.
        classes : array-like of shape (n_classes,), optional
            Every label y can take: required on the first call, optional (but must agree)
            later.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, classes=classes)

    @blas_single_threaded
    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : windows, in the layout the model was fitted on (3-D or list, or 2-D with the
            same columns)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        return softmax(self._outputs(X))

    def predict(self, X):
        """The most probable class of each window.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def _targets(self, y, continuing, incremental, classes):
        y = read_labels(y)
        if continuing:
            known = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), known):
                raise ValueError(f"classes={np.unique(classes)!r} differs from the classes "
                                 f"of the first call, {known!r}")
        elif incremental:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit: "
                                 "every label y can take")
            known = np.unique(read_labels(classes))
        else:
            known = np.unique(y)
        if known.size < 2:
            raise ValueError(f"y has only one class ({known[0]!r}); a classifier needs at "
                             f"least two classes")
        codes = np.minimum(np.searchsorted(known, y), known.size - 1)
        unknown = known[codes] != y
        if unknown.any():
            raise ValueError(f"y has labels that are not among the classes {known!r}: "
                             f"{np.unique(y[unknown])!r}")
        return codes.astype(np.intp), ({} if continuing else {"classes_": known})

    def _output_size(self, state):
        return state["classes_"].size

    def _stratify(self, targets):
        return targets


class RNNRegressor(RegressorMixin, _SequenceModel):
    __doc__ = f"""Predict one or several values from whole windows with a recurrent network.

    The network reads each window from a zero state; the pooled outputs go through a linear
    head to the targets, trained on the mean squared error of the standardised targets.
    Inputs and targets are standardised from the training data; predictions are in the
    targets' units.

    Parameters
    ----------{_PARAMETERS}

    Attributes
    ----------
    n_outputs_ : int
        Target columns.
    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Standardisation of the targets.{_ATTRIBUTES}

    See Also
    --------
    RNNClassifier : the same network with a softmax head.
    tsrnn.datasets.make_windows : windows and the value ``horizon`` steps later from a signal.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.sequence import RNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 10, 2))
    >>> y = X[:, :, 0].mean(axis=1)
    >>> reg = RNNRegressor(hidden_size=8, pooling="mean", learning_rate=0.02,
    ...                    max_epochs=30, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _loss = "squared_error"

    @blas_single_threaded
    def fit(self, X, y):
        """Train on windows X and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, n_features) or (n_samples, T), or list of
            array-like of shape (n_i, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    @blas_single_threaded
    def partial_fit(self, X, y):
        """One epoch over X, y, continuing from the current network (or a new one; the
        first call fixes the standardisation).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True)

    @blas_single_threaded
    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : windows, in the layout the model was fitted on

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs_)
            One column per target when y was 2-D in :meth:`fit`.
        """
        values = self._outputs(X) * self.y_scale_ + self.y_mean_
        return values[:, 0] if self._y_ndim == 1 else values

    def _targets(self, y, continuing, incremental, classes):
        y = read_values(y)
        rows = y.reshape(len(y), -1)
        if continuing:
            if rows.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {rows.shape[1]} outputs, but this model was fitted "
                                 f"on {self.n_outputs_}")
            return (rows - self.y_mean_) / self.y_scale_, {}
        mean, scale = column_scaling(rows)
        state = {"n_outputs_": rows.shape[1], "y_mean_": mean, "y_scale_": scale,
                 "_y_ndim": y.ndim}
        return (rows - mean) / scale, state

    def _output_size(self, state):
        return state["n_outputs_"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _check_size(checked, windows, output_size):
    """Refuse a network whose training would not fit in memory, before it is built."""
    T = int(np.max(windows.lengths))
    batch = min(checked["batch_size"], len(windows.lengths))
    needed = training_bytes(checked["cell"], windows.n_features, checked["hidden_size"],
                            checked["num_layers"], batch, T, checked["dtype"],
                            directions=2 if checked["bidirectional"] else 1,
                            n_outputs=output_size)
    check_network_bytes(needed, f"hidden_size={checked['hidden_size']}, num_layers="
                                f"{checked['num_layers']}, bidirectional="
                                f"{checked['bidirectional']}, windows of {T} steps in batches "
                                f"of {batch}")
