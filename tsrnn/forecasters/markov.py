"""A discretised, variable-order Markov chain forecaster."""
from __future__ import annotations

import numpy as np

from tsrnn._checks import integer, option, option_or, real

from ._base import BaseForecaster

__all__ = ["MarkovForecaster"]

_BINNINGS = ("quantile", "uniform")
_N_GRID = 101  # points of the within-bin quantile function kept per state
_N_PATHS = 1000  # simulated paths behind the intervals of a differenced chain (a 95 % bound
# from 1,000 paths is off by about half a point of probability)
# The automatic choice of differences and bins (see the class docstring).
_AUTO_DIFFERENCES = (0, 1)
_AUTO_STATES = (4, 8, 16, 32, 64)
_VALIDATION_FRACTION = 0.2
_VALIDATION_HORIZON = 10
_VALIDATION_ORIGINS = 20
_MIN_VALIDATION_HEAD = 10
_FALLBACK = (0, 16)  # differences and n_states of a series too short to validate on


def _robust_mean(values):
    """The mean of a bin's values with those far outside its quartiles (3 IQR beyond them)
    pulled in to that fence: the outer bins are open-ended, and one wild value would otherwise
    set the level of every forecast that visits them."""
    q1, q3 = np.quantile(values, [0.25, 0.75])
    fence = 3.0 * (q3 - q1)
    return float(np.clip(values, q1 - fence, q3 + fence).mean())


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
                self.means[s] = _robust_mean(members)
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
        from scipy import sparse  # here, not at import (import time)

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

    def simulate_sums(self, history, horizon, smoothing, n_paths, rng):
        """Running sums of ``n_paths`` simulated paths, shape (horizon, n_paths).

        Each path starts from the context of ``history``, draws the next state from the
        transition probabilities and a value for it from the training values in that state (its
        quantile function at a uniform level), then moves to the successor context.
        """
        ids = np.full(n_paths, self.context_of(history))
        levels = np.arange(n_paths)
        total = np.zeros(n_paths)
        out = np.empty((horizon, n_paths))
        for t in range(horizon):
            active, which = np.unique(ids, return_inverse=True)
            cum = np.cumsum(self.rows(active, smoothing), axis=1)[which]
            draw = rng.random(n_paths)[:, None] * cum[:, -1:]
            states = np.minimum((cum < draw).sum(axis=1), self.n_states - 1)
            position = rng.random(n_paths) * (_N_GRID - 1)
            below = np.minimum(position.astype(np.int64), _N_GRID - 2)
            weight = position - below
            grid = self.grid[states]
            total = total + (1.0 - weight) * grid[levels, below] + weight * grid[levels, below + 1]
            out[t] = total
            ids = self.successors[ids, states]
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


def _validation_split(n):
    """``(head length, horizon, origins)`` of a series of ``n`` values, or None when it is too
    short: the last 20 % is forecast from up to 20 origins, 10 steps (at most half the tail)."""
    tail = int(n * _VALIDATION_FRACTION)
    horizon = min(_VALIDATION_HORIZON, tail // 2)
    head = n - tail
    if horizon < 1 or head < _MIN_VALIDATION_HEAD:
        return None
    origins = np.unique(np.linspace(head, n - horizon, _VALIDATION_ORIGINS).round().astype(int))
    return head, horizon, origins


class MarkovForecaster(BaseForecaster):
    """Forecast with a discretised Markov chain of order ``order``.

    Values are cut into states by bins fitted on the training data; transitions from each
    observed history of up to ``order`` states are counted, with ``smoothing`` added to every
    count. A forecast propagates the state distribution ``horizon`` steps and returns its
    expected value, each state standing for the mean of the training values in its bin.
    With ``differences=1`` the states are bins of the increments ``y[t] - y[t - 1]`` instead,
    and the forecast adds the expected increments to the last observed value.

    Parameters
    ----------
    order : int, default=1
        Number of past states a transition depends on (>= 1).
    n_states : int or "auto", default="auto"
        Number of bins (>= 1), or "auto": chosen among 4, 8, 16, 32 and 64 by the validation
        score described below. Quantile bins that tied values leave empty or duplicated are
        merged, so the fitted chain can have fewer states (``n_states_``).
    binning : {"quantile", "uniform"}, default="quantile"
        Equal-mass bins (quantiles of the training values) or equal-width bins between the
        training minimum and maximum. Values outside the training range fall in the end bins.
    smoothing : float, default=1.0
        Additive (Laplace) smoothing, >= 0, added to every transition count.
    differences : {0, 1, "auto"}, default="auto"
        0 models the values themselves. 1 models their first differences, for series with a
        trend or a wandering level, and for smooth signals whose step-to-step change is small
        against the width of a bin of levels: binned levels cannot forecast values outside
        the training range, increments can. The forecast ``h`` steps ahead is then
        ``y[T] + sum_{k <= h} E[dy[T + k]]``. "auto" chooses by the validation score.
    missing : {"raise", "interpolate"}, default="raise"
        Handling of NaN/inf values.

    Attributes
    ----------
    chains_ : list
        One chain per target column.
    differences_ : int
        The differences used (``differences``, or the automatic choice).
    validation_scores_ : dict
        ``{(differences, n_states): score}`` of every configuration the automatic choice
        compared (empty when both parameters were given).
    n_states_ : list of int
        Number of states of each column's chain.
    bin_edges_ : list of ndarray of shape (n_states_[j] - 1,)
        Inner bin boundaries of each column: value ``v`` (an increment with
        ``differences=1``) is in state ``np.searchsorted(bin_edges_[j], v)``, i.e. bins are
        ``(edge[k - 1], edge[k]]``.
    bin_means_ : list of ndarray of shape (n_states_[j],)
        Mean training value (or increment) of each state, the value a state forecasts.
    n_contexts_ : list of int
        Number of stored histories (of all orders up to ``order``, plus the marginal) per
        column.
    histories_ : list of list of tuple
        Per fitted series and column, the last ``order`` states seen (fit data plus updates).
    last_ : list of ndarray of shape (D,)
        Per fitted series, the last value seen: where the increments of a ``differences=1``
        forecast start.

    Notes
    -----
    *Automatic configuration.* With ``differences="auto"`` or ``n_states="auto"`` every
    combination of the candidate values is fitted on the first 80 % of each training series
    and forecasts up to 10 steps ahead from 20 origins spread over the last 20 %; the
    combination with the lowest mean absolute error (each column divided by the mean absolute
    step of its training part) is refitted on all the data. A chain has no other way to see
    which resolution its data support: too few bins blur a smooth signal (every forecast jumps
    to a bin's mean), too many leave transitions unobserved. Series of fewer than 12 values
    are too short to validate on: "auto" then means ``differences=0`` and 16 states.

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

    Intervals (:meth:`predict_interval`) are quantiles of the forecast distribution, each
    state standing for the empirical distribution of the training values in its bin. With
    ``differences=0`` they come exactly from the propagated state distribution. With
    ``differences=1`` the forecast is a sum of dependent increments whose distribution the
    chain does not give in closed form, so it is simulated: 4,000 paths of states and
    within-bin values from a generator seeded with 0, so intervals are reproducible (with
    other seeds, 90 % intervals on a random walk moved by about 1 % of their width).

    Examples
    --------
    >>> import numpy as np
    >>> from tsrnn.forecasters.markov import MarkovForecaster
    >>> y = np.tile([0.0, 1.0, 2.0, 3.0], 25)
    >>> f = MarkovForecaster(order=1, n_states=4, smoothing=0.0).fit(y)
    >>> f.predict(5)
    array([0., 1., 2., 3., 0.])
    >>> trend = np.arange(100.0) + np.tile([0.0, 0.5], 50)  # steps of 1.5 and 0.5 in turn
    >>> trend[-2:]
    array([98. , 99.5])
    >>> f = MarkovForecaster(n_states=2, smoothing=0.0, differences=1).fit(trend)
    >>> f.predict(4)
    array([100. , 101.5, 102. , 103.5])
    """

    _supports_exog = False
    _parameter_constraints = {
        **BaseForecaster._parameter_constraints,
        "order": integer(1),
        "n_states": option_or(("auto",), integer(1), "an integer >= 1"),
        "binning": option(*_BINNINGS),
        "smoothing": real(0),
        "differences": option_or(("auto",), integer(0, 1), "0 or 1"),
    }

    def __init__(self, order=1, n_states="auto", binning="quantile", smoothing=1.0,
                 differences="auto", missing="raise"):
        self.order = order
        self.n_states = n_states
        self.binning = binning
        self.smoothing = smoothing
        self.differences = differences
        self.missing = missing

    def _min_length(self):
        # At least one transition of what the chain models ("auto" falls back to levels on a
        # series too short to validate on).
        return 2 if self.differences == "auto" else 2 + self.differences

    def _modelled(self, y, last=None):
        """What the chains see: ``y`` itself, or its increments (after ``last``, if given)."""
        if not self.differences_:
            return y
        if last is not None:
            y = np.vstack([last, y])
        return np.diff(y, axis=0)

    def _inner_edges(self, values, n_states):
        """Bin boundaries: value ``v`` is in state ``searchsorted(edges, v)`` (bins closed on the
        right), so each edge is the largest training value of its bin."""
        if self.binning == "uniform":
            if np.ptp(values) == 0:
                return np.empty(0)
            levels = np.linspace(0.0, 1.0, n_states + 1)[1:-1]
            return values.min() + levels * np.ptp(values)
        # Equal-mass bins that never split a tied value: each distinct value joins the bin
        # holding the middle of its mass; bins left empty by ties disappear.
        distinct, counts = np.unique(values, return_counts=True)
        middle = (np.cumsum(counts) - counts / 2.0) / values.size
        group = np.minimum((middle * n_states).astype(np.int64), n_states - 1)
        last_of_group = np.flatnonzero(np.diff(group) > 0)
        return distinct[last_of_group]

    def _fit_core(self, ys, Xs):
        (self.differences_, n_states), self.validation_scores_ = self._configuration(ys)
        self._fit_chains(ys, n_states)

    def _fit_chains(self, ys, n_states):
        zs = [self._modelled(y) for y in ys]
        chains = []
        for j in range(ys[0].shape[1]):
            columns = [z[:, j] for z in zs]
            values = np.concatenate(columns)
            inner = self._inner_edges(values, n_states)
            states = [np.searchsorted(inner, c) for c in columns]
            chains.append(_Chain(values, states, inner, int(self.order)))
        self.chains_ = chains
        self.n_states_ = [c.n_states for c in chains]
        self.bin_edges_ = [c.inner for c in chains]
        self.bin_means_ = [c.means for c in chains]
        self.n_contexts_ = [len(c.contexts) for c in chains]
        self.histories_ = [self._histories(z) for z in zs]
        self.last_ = [y[-1].copy() for y in ys]

    def _histories(self, z, previous=None):
        """The last ``order`` states of each column of ``z`` (after ``previous``), where ``z`` is
        what the chains model (see :meth:`_modelled`)."""
        out = []
        for j, chain in enumerate(self.chains_ if hasattr(self, "chains_") else []):
            new = tuple(int(s) for s in chain.discretise(z[-self.order:, j]))
            before = previous[j] if previous is not None else ()
            out.append((before + new)[-self.order:])
        return out

    def _update_core(self, ys, Xs):
        self.histories_ = [
            self._histories(self._modelled(y, last), previous)
            for y, last, previous in zip(ys, self.last_, self.histories_)
        ]
        self.last_ = [y[-1].copy() for y in ys]

    def _starts(self, contexts):
        """Per output: (histories per column, last value of shape (D,))."""
        if contexts is None:
            return list(zip(self.histories_, self.last_))
        return [(self._histories(self._modelled(c.y)), c.y[-1]) for c in contexts]

    def _predict_core(self, horizon, Xs_future, contexts):
        return [self._expected(histories, last, horizon)
                for histories, last in self._starts(contexts)]

    def _expected(self, histories, last, horizon):
        """The expected path of ``horizon`` steps after ``histories``, shape (horizon, D)."""
        expected = np.column_stack([
            chain.propagate(h, horizon, self.smoothing) @ chain.means
            for chain, h in zip(self.chains_, histories)
        ])
        # differences=1: y[T + h] = y[T] + sum of the expected increments up to h.
        return last + np.cumsum(expected, axis=0) if self.differences_ else expected

    # -------------------------------------------------------------- automatic configuration
    def _candidates(self):
        differences = _AUTO_DIFFERENCES if self.differences == "auto" else (self.differences,)
        states = _AUTO_STATES if self.n_states == "auto" else (self.n_states,)
        return [(int(d), int(s)) for d in differences for s in states]

    def _configuration(self, ys):
        """``((differences, n_states), scores)``: the given values or the validated choice."""
        candidates = self._candidates()
        if len(candidates) == 1:
            return candidates[0], {}
        splits = [_validation_split(len(y)) for y in ys]
        if all(split is None for split in splits):
            given = (self.differences, self.n_states)
            return tuple(f if g == "auto" else int(g) for g, f in zip(given, _FALLBACK)), {}
        heads = [y if split is None else y[:split[0]] for y, split in zip(ys, splits)]
        scores = {c: self._validation_score(c, heads, ys, splits) for c in candidates}
        return min(candidates, key=scores.get), scores

    def _validation_score(self, candidate, heads, ys, splits):
        """Mean scaled absolute error of ``candidate`` fitted on ``heads``, forecasting the
        validation tails of ``ys`` from the origins of ``splits``."""
        differences, n_states = candidate
        model = MarkovForecaster(order=self.order, n_states=n_states, binning=self.binning,
                                 smoothing=self.smoothing, differences=differences)
        model.differences_ = differences
        model._fit_chains(heads, n_states)
        errors = []
        for y, head, split in zip(ys, heads, splits):
            if split is None:
                continue
            _, horizon, origins = split
            scale = np.mean(np.abs(np.diff(head, axis=0)), axis=0)
            scale = np.where(scale > 0, scale, 1.0)
            for origin in origins:
                forecast = model._forecast_after(y[:origin], horizon)
                errors.append(np.abs(forecast - y[origin:origin + horizon]) / scale)
        return float(np.mean(np.concatenate(errors)))

    def _forecast_after(self, y, horizon):
        """The expected path of ``horizon`` steps after the values ``y`` (shape (m, D))."""
        recent = y[-(self.order + 1):]
        return self._expected(self._histories(self._modelled(recent)), recent[-1], horizon)

    def _predict_quantiles_core(self, horizon, levels, Xs_future, contexts):
        # every level, the median included, from the same distribution, so they never cross
        rng = np.random.default_rng(0)
        out = []
        for histories, last in self._starts(contexts):
            columns = []
            for j, (chain, h) in enumerate(zip(self.chains_, histories)):
                if self.differences_:
                    paths = last[j] + chain.simulate_sums(h, horizon, self.smoothing, _N_PATHS,
                                                          rng)
                    columns.append(np.quantile(paths, list(levels), axis=1).T)
                else:
                    dist = chain.propagate(h, horizon, self.smoothing)
                    columns.append(np.column_stack([chain.quantiles(dist, p) for p in levels]))
            out.append(np.stack(columns, axis=1))
        return out

    def _predict_samples_core(self, horizon, n_samples, Xs_future, contexts, rng):
        out = []
        for histories, last in self._starts(contexts):
            columns = []
            for j, (chain, h) in enumerate(zip(self.chains_, histories)):
                sums = chain.simulate_sums(h, horizon, self.smoothing, n_samples, rng).T
                # The chain draws what it models: increments (summed from the last value) or
                # the values themselves (the steps of the running sums).
                columns.append(last[j] + sums if self.differences_
                               else np.diff(sums, axis=1, prepend=0.0))
            out.append(np.stack(columns, axis=-1))
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
