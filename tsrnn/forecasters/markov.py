"""A discretised, variable-order Markov chain forecaster."""
from __future__ import annotations

import numbers

import numpy as np
from scipy import sparse

from ._base import BaseForecaster

__all__ = ["MarkovForecaster"]

_BINNINGS = ("quantile", "uniform")
_N_GRID = 101  # points of the within-bin quantile function kept per state


class _Chain:
    """One column's chain: bins, and transition counts for every observed history.

    A *context* is a tuple of up to ``order`` past states that occurred in the training data
    followed by at least one more state; the empty tuple (the marginal) is context 0. Counts
    are a sparse (n_contexts, n_states) matrix and successors a (n_contexts, n_states) integer
    table, so memory grows with the number of distinct observed histories (at most ``order``
    times the number of observations), never with ``n_states ** order``.
    """

    def __init__(self, values, states_series, inner, order):
        self.order = order
        self.inner = inner
        n_states = self.n_states = inner.size + 1
        edges = np.r_[values.min(), inner, values.max()]
        # Bin summaries: mean and a quantile function of the training values in each state.
        states = np.concatenate(states_series)
        self.means = np.empty(n_states)
        self.grid = np.empty((n_states, _N_GRID))
        levels = np.linspace(0.0, 1.0, _N_GRID)
        for s in range(n_states):
            members = values[states == s]
            if members.size:
                self.means[s] = members.mean()
                self.grid[s] = np.quantile(members, levels)
            else:  # an empty uniform bin: its midpoint
                self.means[s] = self.grid[s] = 0.5 * (edges[s] + edges[s + 1])
        # Counts for every order j = 0..order: rows are contexts, columns next states.
        self.contexts = [()]
        rows = [np.zeros(n_states, dtype=np.int64)]
        rows[0] += np.bincount(states, minlength=n_states)
        entries_ctx, entries_next, entries_count = [], [], []
        for j in range(1, order + 1):
            windows = [
                np.lib.stride_tricks.sliding_window_view(z, j + 1)
                for z in states_series
                if z.size > j
            ]
            if not windows:
                break
            unique, counts = np.unique(np.vstack(windows), axis=0, return_counts=True)
            histories, which = np.unique(unique[:, :-1], axis=0, return_inverse=True)
            first_id = len(self.contexts)
            self.contexts.extend(tuple(int(s) for s in h) for h in histories)
            entries_ctx.append(first_id + which.ravel())
            entries_next.append(unique[:, -1])
            entries_count.append(counts)
        n_contexts = len(self.contexts)
        ctx = np.concatenate([np.zeros(n_states, dtype=np.int64)] + entries_ctx)
        nxt = np.concatenate([np.arange(n_states)] + entries_next)
        cnt = np.concatenate([rows[0]] + entries_count).astype(np.float64)
        self.counts = sparse.csr_matrix((cnt, (ctx, nxt)), shape=(n_contexts, n_states))
        self.totals = np.asarray(self.counts.sum(axis=1)).ravel()
        self.index = {c: i for i, c in enumerate(self.contexts)}
        self.successors = self._successor_table()

    def _successor_table(self):
        """``table[c, s]``: the context after emitting state ``s`` from context ``c``.

        That is the longest observed suffix of ``c + (s,)`` (at most ``order`` long). With
        ``parent(c) = c[1:]``: ``table[c, s] = id(c + (s,))`` when ``len(c) < order`` and that
        history was observed, else ``table[parent(c), s]``; filled by increasing length.
        Observed contexts are closed under dropping their first or last state, so parents and
        prefixes always exist. Memory: n_contexts * n_states integers.
        """
        contexts = self.contexts
        lengths = np.fromiter((len(c) for c in contexts), np.int64, len(contexts))
        parent = np.fromiter(
            (self.index[c[1:]] if c else 0 for c in contexts), np.int64, len(contexts)
        )
        prefix = np.fromiter(
            (self.index[c[:-1]] if c else 0 for c in contexts), np.int64, len(contexts)
        )
        last = np.fromiter((c[-1] if c else 0 for c in contexts), np.int64, len(contexts))
        table = np.zeros((len(contexts), self.n_states), dtype=np.int64)
        for length in range(self.order + 1):
            ids = np.flatnonzero(lengths == length)
            if length > 0:
                table[ids] = table[parent[ids]]
            children = np.flatnonzero(lengths == length + 1)
            table[prefix[children], last[children]] = children
        return table

    def discretise(self, values):
        return np.clip(np.searchsorted(self.inner, values, side="left"), 0, self.n_states - 1)

    def context_of(self, history):
        """The longest suffix of ``history`` (at most ``order`` long) that was observed."""
        # Observed contexts are closed under taking suffixes, so grow the suffix from the
        # shortest and stop at the first one never seen.
        history = tuple(history)[-self.order:]
        found = 0
        for length in range(1, len(history) + 1):
            cid = self.index.get(history[len(history) - length:])
            if cid is None:
                break
            found = cid
        return found

    def rows(self, ids, smoothing):
        """Transition probabilities of contexts ``ids``, shape (len(ids), n_states)."""
        rows = self.counts[ids].toarray() + smoothing
        return rows / (self.totals[ids] + smoothing * self.n_states)[:, None]

    def propagate(self, history, horizon, smoothing):
        """State distributions of the next ``horizon`` steps, shape (horizon, n_states).

        The chain's state is the effective context (longest observed suffix of the history);
        after emitting state ``s`` from context ``c`` the next context is the longest observed
        suffix of ``c + (s,)``, which is exact because a suffix observed at length L + 1 implies
        its first L states were observed as a context too.
        """
        ids = np.array([self.context_of(history)])
        probs = np.ones(1)
        out = np.empty((horizon, self.n_states))
        for t in range(horizon):
            rows = self.rows(ids, smoothing)
            out[t] = probs @ rows
            if t == horizon - 1:
                break
            mass = np.bincount(
                self.successors[ids].ravel(), weights=(probs[:, None] * rows).ravel(),
                minlength=len(self.contexts),
            )
            ids = np.flatnonzero(mass > 0)
            probs = mass[ids]
        return out

    def quantiles(self, dist, level):
        """Quantile ``level`` of the mixture sum_s dist[s] * (training values of state s)."""
        cum = np.cumsum(dist, axis=1)
        out = np.empty(dist.shape[0])
        for t in range(dist.shape[0]):
            b = min(int(np.searchsorted(cum[t], level * cum[t, -1], side="left")),
                    self.n_states - 1)
            below = cum[t, b - 1] if b > 0 else 0.0
            within = (level * cum[t, -1] - below) / dist[t, b] if dist[t, b] > 0 else 0.5
            out[t] = np.interp(np.clip(within, 0.0, 1.0), np.linspace(0, 1, _N_GRID),
                               self.grid[b])
        return out


class MarkovForecaster(BaseForecaster):
    """Forecast with a discretised Markov chain of order ``order``.

    Values are cut into states by bins fitted on the training data; transitions from each
    observed history of up to ``order`` states are counted, with ``smoothing`` added to every
    count. A forecast propagates the state distribution ``horizon`` steps and returns its
    expected value, each state standing for the mean of the training values in its bin.

    Parameters
    ----------
    order : int, default=1
        Number of past states a transition depends on (>= 1).
    n_states : int, default=16
        Number of bins (>= 1). Quantile bins that tied values leave empty or duplicated are
        merged, so the fitted chain can have fewer states (``n_states_``).
    binning : {"quantile", "uniform"}, default="quantile"
        Equal-mass bins (quantiles of the training values) or equal-width bins between the
        training minimum and maximum. Values outside the training range fall in the end bins.
    smoothing : float, default=1.0
        Additive (Laplace) smoothing, >= 0, added to every transition count.
    missing : {"raise", "interpolate"}, default="raise"
        Handling of NaN/inf values.

    Attributes
    ----------
    chains_ : list
        One chain per target column.
    n_states_ : list of int
        Number of states of each column's chain.
    bin_edges_ : list of ndarray of shape (n_states_[j] - 1,)
        Inner bin boundaries of each column: value ``v`` is in state
        ``np.searchsorted(bin_edges_[j], v)``, i.e. bins are ``(edge[k - 1], edge[k]]``.
    bin_means_ : list of ndarray of shape (n_states_[j],)
        Mean training value of each state, the value a state forecasts.
    n_contexts_ : list of int
        Number of stored histories (of all orders up to ``order``, plus the marginal) per
        column.
    histories_ : list of list of tuple
        Per fitted series and column, the last ``order`` states seen (fit data plus updates).

    Notes
    -----
    *Memory.* Only histories that occur in the training data are stored: a sparse count matrix
    and a successor table of ``n_contexts_ * n_states_`` integers, never a dense
    ``n_states ** order`` table. Forecasting costs ``O(horizon * active * n_states)`` where
    ``active`` (at most ``n_contexts_``) is the number of histories reachable so far.

    *Back-off.* A history that was never observed at full length uses its longest observed
    suffix, down to the marginal state distribution (the empty history). Propagation runs on
    these effective histories, so forecasts stay exact for the fitted model at any order.

    *Several columns* (``D > 1``) get one independent chain per column. *A list of series*
    pools all transition counts into one chain per column (no transition crosses the end of a
    series). ``update`` only moves the end-of-data history forward; counts are not changed.
    Exogenous columns are not used: passing ``X`` raises.

    Intervals (:meth:`predict_interval`) are quantiles of the propagated distribution, each
    state standing for the empirical distribution of the training values in its bin.

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.markov import MarkovForecaster
    >>> y = np.tile([0.0, 1.0, 2.0, 3.0], 25)
    >>> f = MarkovForecaster(order=1, n_states=4, smoothing=0.0).fit(y)
    >>> f.predict(5)
    array([0., 1., 2., 3., 0.])
    """

    _supports_exog = False

    def __init__(self, order=1, n_states=16, binning="quantile", smoothing=1.0,
                 missing="raise"):
        self.order = order
        self.n_states = n_states
        self.binning = binning
        self.smoothing = smoothing
        self.missing = missing

    def _check_params(self):
        for name in ("order", "n_states"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
                    or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.binning not in _BINNINGS:
            raise ValueError(f"binning must be one of {_BINNINGS}, got {self.binning!r}")
        if not isinstance(self.smoothing, numbers.Real) or not self.smoothing >= 0:
            raise ValueError(f"smoothing must be a number >= 0, got {self.smoothing!r}")

    def _min_length(self):
        self._check_params()
        return 2

    def _inner_edges(self, values):
        """Bin boundaries: value ``v`` is in state ``searchsorted(edges, v)`` (bins closed on the
        right), so each edge is the largest training value of its bin."""
        if self.binning == "uniform":
            if np.ptp(values) == 0:
                return np.empty(0)
            levels = np.linspace(0.0, 1.0, self.n_states + 1)[1:-1]
            return values.min() + levels * np.ptp(values)
        # Equal-mass bins that never split a tied value: each distinct value joins the bin
        # holding the middle of its mass; bins left empty by ties disappear.
        distinct, counts = np.unique(values, return_counts=True)
        middle = (np.cumsum(counts) - counts / 2.0) / values.size
        group = np.minimum((middle * self.n_states).astype(np.int64), self.n_states - 1)
        last_of_group = np.flatnonzero(np.diff(group) > 0)
        return distinct[last_of_group]

    def _fit_core(self, ys, Xs):
        self._check_params()
        chains = []
        for j in range(ys[0].shape[1]):
            columns = [y[:, j] for y in ys]
            values = np.concatenate(columns)
            inner = self._inner_edges(values)
            states = [np.searchsorted(inner, c) for c in columns]
            chains.append(_Chain(values, states, inner, int(self.order)))
        self.chains_ = chains
        self.n_states_ = [c.n_states for c in chains]
        self.bin_edges_ = [c.inner for c in chains]
        self.bin_means_ = [c.means for c in chains]
        self.n_contexts_ = [len(c.contexts) for c in chains]
        self.histories_ = [self._histories(y) for y in ys]

    def _histories(self, y, previous=None):
        """The last ``order`` states of each column of ``y`` (after ``previous``)."""
        out = []
        for j, chain in enumerate(self.chains_ if hasattr(self, "chains_") else []):
            new = tuple(int(s) for s in chain.discretise(y[-self.order:, j]))
            before = previous[j] if previous is not None else ()
            out.append((before + new)[-self.order:])
        return out

    def _update_core(self, ys, Xs):
        self.histories_ = [
            self._histories(y, previous) for y, previous in zip(ys, self.histories_)
        ]

    def _distributions(self, horizon, contexts):
        """Per output, per column: the (horizon, n_states) propagated distributions."""
        if contexts is None:
            histories = self.histories_
        else:
            histories = [self._histories(y) for y, _ in contexts]
        return [
            [chain.propagate(h, horizon, self.smoothing) for chain, h in zip(self.chains_, hist)]
            for hist in histories
        ]

    def _predict_core(self, horizon, Xs_future, contexts):
        return [
            np.column_stack([d @ chain.means for chain, d in zip(self.chains_, dists)])
            for dists in self._distributions(horizon, contexts)
        ]

    def _predict_interval_core(self, horizon, coverage, Xs_future, contexts):
        lo, hi = 0.5 - coverage / 2.0, 0.5 + coverage / 2.0
        out = []
        for dists in self._distributions(horizon, contexts):
            out.append((
                np.column_stack([c.quantiles(d, lo) for c, d in zip(self.chains_, dists)]),
                np.column_stack([c.quantiles(d, hi) for c, d in zip(self.chains_, dists)]),
            ))
        return out

    def transition_probabilities(self, history, column=0):
        """Next-state probabilities after ``history``, with back-off and smoothing.

        Parameters
        ----------
        history : sequence of int
            Past states, oldest first (only the last ``order`` are used).
        column : int, default=0
            Target column whose chain to use.

        Returns
        -------
        probabilities : ndarray of shape (n_states_[column],)
            ``(count(history -> s) + smoothing) / (count(history) + n_states * smoothing)``
            for the longest observed suffix of ``history``.

        Examples
        --------
        >>> import numpy as np
        >>> from tsrnn.forecasters.markov import MarkovForecaster
        >>> f = MarkovForecaster(n_states=2, smoothing=0.0).fit(np.array([0., 1., 1., 0., 1.]))
        >>> f.transition_probabilities([1])
        array([0.5, 0.5])
        """
        self._check_fitted()
        chain = self.chains_[column]
        cid = chain.context_of(tuple(int(s) for s in history))
        return chain.rows(np.array([cid]), self.smoothing)[0]
