"""Training a RecurrentNetwork: truncated BPTT over carried state, with scheduled sampling.

Layout. The training series are cut into contiguous *streams* that run side by side as the B
rows ("lanes") of a batch, each carrying its own state from one window to the next, so an
epoch reads every sample once. A long signal becomes ``batch_size`` streams; many series are
split into streams of about the same length and grouped with others of similar length. Lanes
shorter than their batch are padded at the end only, where the loss weight is zero, so padding
never reaches a gradient. Input step t of a stream holds ``[y_t, x_{t+1}]`` (the exogenous
values at the time being predicted) and the target is ``y_{t+1}``.

TBPTT(k1, k2). Every k1 steps the weights are updated from the loss of those k1 steps,
back-propagated through the last k2 steps (k2 >= k1): the network is re-run over k2 steps from
the state saved k2 steps back, the loss is taken on the last k1 predictions only.

Scheduled sampling. Where ``teacher[t, b]`` is false the input is the network's own
prediction instead of the truth, and gradients flow through those fed-back predictions
(``RecurrentNetwork.backward``). Own predictions are fed in runs of ``free_run`` steps, like
the forecasts the model will make, starting at random places; ``teacher_forcing`` is the
fraction of inputs that stay true.
"""

from dataclasses import dataclass, field

import numpy as np

from tsrnn.nn.losses import get_loss
from tsrnn.nn.optim import clip_grad_norm, make_optimizer

from tsrnn._representation import Level

__all__ = ["Lanes", "make_lanes", "teacher_mask", "Trainer", "TrainingHistory"]


@dataclass
class Lanes:
    """B streams side by side, time-major, padded at the end.

    Attributes
    ----------
    y : ndarray (S, B, D)
        Target part of each input step.
    exog : ndarray (S, B, E) or None
        Exogenous part of each input step (the values at the time being predicted).
    target : ndarray (S, B, D)
        The value to predict after each step.
    weight : ndarray (S, B, D)
        1 where a target exists, 0 on padding and past a series' last value.
    """

    y: np.ndarray
    exog: np.ndarray
    target: np.ndarray
    weight: np.ndarray

    @property
    def steps(self):
        return self.y.shape[0]

    @property
    def batch(self):
        return self.y.shape[1]


def _split(n, pieces):
    """Boundaries of ``pieces`` contiguous, nearly equal parts of range(n)."""
    return np.linspace(0, n, pieces + 1).round().astype(int)


def make_lanes(ys, Xs, batch_size, dtype):
    """Cut series into streams and group them into padded batches of at most ``batch_size``.

    Parameters
    ----------
    ys : list of ndarray (n_i, D)
    Xs : list of ndarray (n_i, E) or None
    batch_size : int
    dtype : numpy dtype

    Returns
    -------
    list of Lanes
    """
    total = sum(len(y) for y in ys)
    length = max(1, -(-total // batch_size))  # ceil: one epoch = every sample once
    streams = []  # (series index, start, stop) of input steps
    for i, y in enumerate(ys):
        bounds = _split(len(y), max(1, round(len(y) / length)))
        streams += [(i, a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    streams.sort(key=lambda s: s[2] - s[1], reverse=True)
    D = ys[0].shape[1]
    E = 0 if Xs[0] is None else Xs[0].shape[1]
    lanes = []
    for first in range(0, len(streams), batch_size):
        group = streams[first:first + batch_size]
        S, B = group[0][2] - group[0][1], len(group)
        y = np.zeros((S, B, D), dtype)
        target = np.zeros((S, B, D), dtype)
        weight = np.zeros((S, B, D), dtype)
        exog = np.zeros((S, B, E), dtype) if E else None
        for b, (i, start, stop) in enumerate(group):
            n = stop - start
            y[:n, b] = ys[i][start:stop]
            # targets y_{t+1}; the series' last value has none
            known = min(stop + 1, len(ys[i])) - (start + 1)
            target[:known, b] = ys[i][start + 1:start + 1 + known]
            weight[:known, b] = 1
            if E:
                exog[:known, b] = Xs[i][start + 1:start + 1 + known]
        lanes.append(Lanes(y, exog, target, weight))
    return lanes


def teacher_mask(rng, steps, batch, teacher_forcing, free_run):
    """Which inputs are true values (True) and which are the network's own predictions.

    Own predictions come in runs of ``free_run`` steps starting at random places, so that a
    fraction of about ``teacher_forcing`` of the inputs stays true. Step 0 is always true (no
    prediction exists before a stream starts).

    Parameters
    ----------
    rng : numpy.random.Generator
    steps, batch : int
    teacher_forcing : float in [0, 1]
    free_run : int >= 1

    Returns
    -------
    ndarray of bool, shape (steps, batch)
    """
    if teacher_forcing >= 1.0:
        mask = np.ones((steps, batch), bool)
    elif free_run == 1:
        mask = rng.random((steps, batch)) < teacher_forcing
    else:
        # A run of own predictions starts at a step with probability q; runs cover about
        # 1 - (1 - q)^free_run of all steps, which is solved for the requested fraction.
        fed_back = 1.0 - teacher_forcing
        q = 1.0 - (1.0 - min(fed_back, 1.0 - 1e-9)) ** (1.0 / free_run)
        starts = rng.random((steps, batch)) < q
        # a step is fed back if a run started within the last free_run steps (rolling OR)
        covered = np.zeros((steps + free_run, batch), np.int32)
        where = np.nonzero(starts)
        covered[where] += 1
        covered[where[0] + free_run, where[1]] -= 1
        mask = np.cumsum(covered, axis=0)[:steps] == 0
    mask[0] = True
    return mask


@dataclass
class TrainingHistory:
    """What happened during training, epoch by epoch (as scikit-learn's MLPRegressor keeps)."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_iteration: int = None
    best_score: float = np.inf
    no_improvement: int = 0
    initial_score: float = None


class Trainer:
    """Fits a RecurrentNetwork by TBPTT(k1, k2) over lanes.

    Parameters
    ----------
    network : RecurrentNetwork
    tbptt : int or (int, int)
        k, or (k1, k2) with k2 >= k1.
    learning_rate : float
    optimizer : {"adam", "sgd"}
    loss : {"mse", "mae", "huber"}
    clip_norm : float or None
        Clip the global gradient norm to this value.
    teacher_forcing : float, (float, float) or callable
        Fraction of true inputs: a constant, a (start, end) pair decayed linearly over the
        epochs, or a function of (epoch, max_epochs).
    free_run : int
        Length of the runs of fed-back predictions.
    dropout : float
        Dropout rate on the inputs of layers after the first.
    rng : numpy.random.Generator
    """

    def __init__(self, network, tbptt=100, learning_rate=1e-3, optimizer="adam", loss="mse",
                 clip_norm=1.0, teacher_forcing=1.0, free_run=1, dropout=0.0, rng=None):
        self.network = network
        self.k1, self.k2 = (tbptt, tbptt) if np.isscalar(tbptt) else tuple(tbptt)
        self.loss = get_loss(loss)
        self.clip_norm = clip_norm
        self.teacher_forcing = teacher_forcing
        self.free_run = int(free_run)
        self.dropout = float(dropout)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.optimizer = make_optimizer(optimizer, [p for _, p, _ in network.parameters()],
                                        learning_rate)
        self.history = TrainingHistory()

    def teacher_rate(self, epoch, max_epochs):
        """Fraction of true inputs at ``epoch`` (0-based) of ``max_epochs``."""
        schedule = self.teacher_forcing
        if callable(schedule):
            return float(schedule(epoch, max_epochs))
        if np.isscalar(schedule):
            return float(schedule)
        start, end = schedule
        progress = epoch / max(max_epochs - 1, 1)
        return float(start + (end - start) * progress)

    def epoch(self, lanes, rate, progress=None):
        """One pass over every lane batch; returns the mean training loss."""
        total, count = 0.0, 0
        for index in self.rng.permutation(len(lanes)):
            for value in self._batch(lanes[index], rate):
                total += value
                count += 1
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(loss=f"{total / count:.4g}", refresh=False)
        return total / max(count, 1)

    def windows(self, lanes):
        """Number of weight updates one epoch makes over ``lanes``."""
        return sum(-(-lane.steps // self.k1) for lane in lanes)

    def _batch(self, lane, rate):
        """Train over one batch of lanes window by window; yields each window's loss."""
        net, k1, k2 = self.network, self.k1, self.k2
        S, B = lane.steps, lane.batch
        teacher = teacher_mask(self.rng, S, B, rate, self.free_run)
        masks = self._dropout_masks(S, B)
        no_pred = np.zeros((B, net.n_targets), net.dtype)
        saved = {}  # window start -> (state reached there, prediction of its first value)
        grads = [g for _, _, g in net.parameters()]
        for start in range(0, S, k1):
            # update from the loss of steps [start, end), back-propagated from end - k2
            end = min(start + k1, S)
            begin = max(0, end - k2)
            if begin == 0:
                # the start state is read afresh: a learned one changes with every update
                state, first_pred = net.start_state(B), no_pred
            else:
                state, first_pred = saved.pop(begin)
            window = slice(begin, end)
            pred, _ = net.run(
                lane.y[window], teacher[window],
                None if lane.exog is None else lane.exog[window], state, first_pred,
                keep_cache=True,
                dropout_masks=None if masks is None else [m[window] for m in masks])
            # loss on [start, end) only; the steps before carry gradient through
            scored = slice(start - begin, end - begin)
            weight = np.zeros_like(pred)
            weight[scored] = lane.weight[window][scored]
            value, dpred = self.loss(pred, lane.target[window], weight)
            net.zero_grad()
            dstate0 = net.backward(dpred.astype(net.dtype, copy=False))
            if begin == 0:
                net.add_start_state_gradient(dstate0)
            clip_grad_norm(grads, self.clip_norm)
            self.optimizer.step(grads)
            # the next window is re-run from k2 steps before its end: keep the state there
            next_begin = max(0, min(end + k1, S) - k2)
            if end < S and next_begin > begin:
                saved[next_begin] = (net.cached_state(next_begin - begin - 1),
                                     pred[next_begin - begin - 1].copy())
            yield value

    def _dropout_masks(self, steps, batch):
        net = self.network
        if self.dropout <= 0 or net.num_layers == 1:
            return None
        keep = 1.0 - self.dropout
        shape = (steps, batch, net.hidden_size)
        return [((self.rng.random(shape) < keep) / keep).astype(net.dtype)
                for _ in range(net.num_layers - 1)]


class ForecastValidation:
    """Scores multi-step forecasts from rolling origins in held-out tails (for early stopping).

    For every origin o, the network starts from its start state, runs teacher-forced over the
    ``warmup`` encoded values before o, then forecasts ``horizon`` values on its own, exactly as
    ``predict(context=...)`` does; the forecasts are decoded back to the series' units, so that
    models reading different representations of the same series get comparable scores. All
    origins of all series run as one batch.

    Parameters
    ----------
    ys : list of ndarray (n_i, D)
        Whole series (training part and tail), in the forecaster's standardised units.
    Xs : list of ndarray (n_i, E) or None
    starts : list of int
        Where each series' held-out tail begins.
    horizon : int
    warmup : int
        Known values before each origin that condition the state.
    n_origins : int
        Origins per series, spread evenly over its tail.
    representation : Level or SeasonalChange, optional
        What the network reads (default: the series itself).
    origins : list of (int, int), optional
        ``(series, origin)`` pairs to forecast from instead of ``n_origins`` per tail (each
        with its history complete for ``representation`` and ``horizon`` values after it).
    unknown_ahead : int, default=0
        The last exogenous columns that are unknown after an origin (past covariates): zero
        in the rows of the forecast's second and later steps, as in ``predict``.
    """

    def __init__(self, ys, Xs, starts, horizon, warmup, n_origins=20, dtype=np.float32,
                 representation=None, origins=None, unknown_ahead=0):
        self.horizon = int(horizon)
        self.representation = rep = representation or Level()
        rows = (list(origins) if origins is not None
                else self._origins(ys, starts, n_origins, rep))
        encoded = [rep.encode(y) for y in ys]
        warm = min(warmup, min(o for _, o in rows) - rep.offset)
        T, B, D = warm - 1 + self.horizon, len(rows), ys[0].shape[1]
        E = 0 if Xs[0] is None else Xs[0].shape[1]
        self.y = np.zeros((T, B, D), dtype)
        self.teacher = np.zeros((T, B), bool)
        self.teacher[:warm] = True
        self.exog = np.zeros((T, B, E), dtype) if E else None
        self.truth = np.zeros((self.horizon, B, D))
        self.history = np.zeros((max(rep.memory, rep.offset + 1), B, D))
        for b, (i, origin) in enumerate(rows):
            z_origin = origin - rep.offset
            self.y[:warm, b] = encoded[i][z_origin - warm:z_origin]
            self.truth[:, b] = ys[i][origin:origin + self.horizon]
            known = ys[i][max(0, origin - len(self.history)):origin]
            self.history[-len(known):, b] = known
            if E:
                # input step t holds the exogenous values of the time it predicts
                self.exog[:, b] = Xs[i][origin - warm + 1:origin + self.horizon]
        if unknown_ahead and E:
            self.exog[warm:, :, E - unknown_ahead:] = 0
        self.origins = rows
        self.warm = warm

    def _origins(self, ys, starts, n_origins, rep):
        rows = []
        for i, (y, start) in enumerate(zip(ys, starts)):
            # every origin needs one encoded value before it and its history complete
            first = max(start, rep.offset + 1, rep.memory)
            last = len(y) - self.horizon
            if last < first:
                continue
            for origin in np.unique(np.linspace(first, last, n_origins).round().astype(int)):
                rows.append((i, origin))
        if not rows:
            raise ValueError("the validation tail is too short for one forecast; lower "
                             "validation_fraction's horizon or add data")
        return rows

    def forecasts(self, network):
        """Forecasts (horizon, B, D) of every origin, in the series' standardised units."""
        B = self.y.shape[1]
        pred, _ = network.run(self.y, self.teacher, self.exog, network.start_state(B))
        return self.representation.decode(pred[self.warm - 1:], self.history)

    def score(self, network):
        """Mean absolute error of the forecasts over all origins, steps and columns."""
        error = np.abs(self.forecasts(network) - self.truth)
        return float(np.mean(error)) if np.all(np.isfinite(error)) else np.inf
