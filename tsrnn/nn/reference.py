"""Plain-NumPy single-layer RNN, GRU and LSTM cells: a second oracle for the tests.

Nothing here is fast or used at run time. Each cell is written out step by step in float64,
straight from its gate equations, so that the Cython kernels and :mod:`tsrnn.nn.layers` can be
checked against an implementation that shares none of their code. The equations and the parameter
layout are PyTorch's (``torch.nn.RNN``, ``torch.nn.GRU``, ``torch.nn.LSTM``):

* shapes are time-major: ``x`` is ``(T, B, F)``, states are ``(B, H)``, outputs ``(T, B, H)``;
* ``weight_ih`` is ``(G*H, F)``, ``weight_hh`` is ``(G*H, H)``, ``bias_ih`` and ``bias_hh`` are
  ``(G*H,)``, with ``G = 1`` (RNN), ``3`` (GRU, rows r, z, n) or ``4`` (LSTM, rows i, f, g, o).

Two variants that PyTorch lacks are included: the GRU of Cho et al. (2014) that applies the reset
gate before the recurrent product (``reset_after=False``), and the peephole LSTM.

Every ``*_forward`` returns a ``cache`` holding everything its ``*_backward`` needs; the backward
functions return the gradients of a scalar loss given its gradients with respect to the outputs
and to the final state.
"""
import numpy as np

__all__ = [
    "rnn_forward",
    "rnn_backward",
    "gru_forward",
    "gru_backward",
    "lstm_forward",
    "lstm_backward",
]


def _f64(a, name):
    """Return ``a`` as a float64 array (a copy, so callers' arrays are never touched)."""
    a = np.array(a, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values")
    return a


def _sigmoid(a):
    """Logistic function without overflow: 1 / (1 + exp(-a)) evaluated through exp(-|a|)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _check_shapes(x, states, weight_ih, weight_hh, bias_ih, bias_hh, gates):
    """Check the shapes shared by all cells and return ``(T, B, F, H)``."""
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (T, B, F), got shape {x.shape}")
    T, B, F = x.shape
    if weight_hh.ndim != 2 or weight_hh.shape[0] % gates:
        raise ValueError(f"weight_hh must be ({gates}*H, H), got shape {weight_hh.shape}")
    H = weight_hh.shape[0] // gates
    expected = {
        "weight_ih": (gates * H, F),
        "weight_hh": (gates * H, H),
        "bias_ih": (gates * H,),
        "bias_hh": (gates * H,),
    }
    got = {"weight_ih": weight_ih, "weight_hh": weight_hh, "bias_ih": bias_ih, "bias_hh": bias_hh}
    for name, shape in expected.items():
        if got[name].shape != shape:
            raise ValueError(f"{name} has shape {got[name].shape}, expected {shape}")
    for name, s in states.items():
        if s.shape != (B, H):
            raise ValueError(f"{name} has shape {s.shape}, expected {(B, H)}")
    return T, B, F, H


def _zeros_or(a, shape, name):
    """``a`` as float64, or zeros of ``shape`` when ``a`` is None; shape-checked."""
    if a is None:
        return np.zeros(shape)
    a = _f64(a, name)
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    return a


# --------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity="tanh"):
    """Run a single-layer Elman RNN over a sequence.

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), with act = tanh or relu.

    Parameters
    ----------
    x : array_like, shape (T, B, F)
        Input sequence, time-major. float32 or float64; computed in float64.
    h0 : array_like, shape (B, H)
        Initial hidden state.
    weight_ih : array_like, shape (H, F)
    weight_hh : array_like, shape (H, H)
    bias_ih, bias_hh : array_like, shape (H,)
    nonlinearity : {"tanh", "relu"}, default "tanh"

    Returns
    -------
    out : ndarray, shape (T, B, H), float64
        Hidden state at every step; ``out[-1]`` is the final state.
    cache : dict
        Everything :func:`rnn_backward` needs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, h0 = rng.normal(size=(5, 2, 3)), np.zeros((2, 4))
    >>> w_ih, w_hh = rng.normal(size=(4, 3)), rng.normal(size=(4, 4))
    >>> out, cache = rnn_forward(x, h0, w_ih, w_hh, np.zeros(4), np.zeros(4))
    >>> out.shape
    (5, 2, 4)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, h0 = _f64(x, "x"), _f64(h0, "h0")
    w_ih, w_hh = _f64(weight_ih, "weight_ih"), _f64(weight_hh, "weight_hh")
    b_ih, b_hh = _f64(bias_ih, "bias_ih"), _f64(bias_hh, "bias_hh")
    T, B, _, H = _check_shapes(x, {"h0": h0}, w_ih, w_hh, b_ih, b_hh, 1)

    out = np.empty((T, B, H))
    h = h0
    for t in range(T):
        a = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)
        out[t] = h
    cache = dict(x=x, h0=h0, out=out, weight_ih=w_ih, weight_hh=w_hh, nonlinearity=nonlinearity)
    return out, cache


def rnn_backward(dout, dh_last, cache):
    """Back-propagate through :func:`rnn_forward`.

    Parameters
    ----------
    dout : array_like, shape (T, B, H)
        Gradient of the loss with respect to ``out``.
    dh_last : array_like, shape (B, H), or None
        Gradient of the loss with respect to the final hidden state, over and above what reaches
        it through ``dout[-1]``. None means zero.
    cache : dict
        As returned by :func:`rnn_forward`.

    Returns
    -------
    dx : ndarray, shape (T, B, F)
    dh0 : ndarray, shape (B, H)
    grads : dict
        ``weight_ih`` (H, F), ``weight_hh`` (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, h0 = rng.normal(size=(5, 2, 3)), np.zeros((2, 4))
    >>> w_ih, w_hh = rng.normal(size=(4, 3)), rng.normal(size=(4, 4))
    >>> out, cache = rnn_forward(x, h0, w_ih, w_hh, np.zeros(4), np.zeros(4))
    >>> dx, dh0, grads = rnn_backward(np.ones_like(out), None, cache)
    >>> grads["weight_hh"].shape
    (4, 4)
    """
    x, h0, out = cache["x"], cache["h0"], cache["out"]
    w_ih, w_hh = cache["weight_ih"], cache["weight_hh"]
    T, B, F = x.shape
    H = h0.shape[1]
    dout = _zeros_or(dout, (T, B, H), "dout")
    dh = _zeros_or(dh_last, (B, H), "dh_last")

    dx = np.empty_like(x)
    g = {k: np.zeros_like(v) for k, v in (("weight_ih", w_ih), ("weight_hh", w_hh))}
    g["bias_ih"], g["bias_hh"] = np.zeros(H), np.zeros(H)
    for t in range(T - 1, -1, -1):
        h = out[t]
        h_prev = out[t - 1] if t > 0 else h0
        dh = dh + dout[t]
        # derivative from the output: tanh' = 1 - h^2; relu' = 1 where h > 0 (i.e. a > 0)
        da = dh * (1.0 - h * h) if cache["nonlinearity"] == "tanh" else dh * (h > 0)
        g["weight_ih"] += da.T @ x[t]
        g["weight_hh"] += da.T @ h_prev
        g["bias_ih"] += da.sum(axis=0)
        g["bias_hh"] += da.sum(axis=0)
        dx[t] = da @ w_ih
        dh = da @ w_hh
    return dx, dh, g


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------
def gru_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, reset_after=True):
    """Run a single-layer GRU over a sequence.

    Rows of the weights are the gates r, z, n (PyTorch's order)::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))      reset_after=True
        n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)      reset_after=False
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    ``reset_after=True`` is PyTorch's (and cuDNN's) GRU; ``reset_after=False`` is the original
    formulation of Cho et al. (2014).

    Parameters
    ----------
    x : array_like, shape (T, B, F)
    h0 : array_like, shape (B, H)
    weight_ih : array_like, shape (3*H, F)
    weight_hh : array_like, shape (3*H, H)
    bias_ih, bias_hh : array_like, shape (3*H,)
    reset_after : bool, default True

    Returns
    -------
    out : ndarray, shape (T, B, H), float64
    cache : dict
        Everything :func:`gru_backward` needs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, h0 = rng.normal(size=(5, 2, 3)), np.zeros((2, 4))
    >>> w_ih, w_hh = rng.normal(size=(12, 3)), rng.normal(size=(12, 4))
    >>> out, cache = gru_forward(x, h0, w_ih, w_hh, np.zeros(12), np.zeros(12))
    >>> out.shape
    (5, 2, 4)
    """
    x, h0 = _f64(x, "x"), _f64(h0, "h0")
    w_ih, w_hh = _f64(weight_ih, "weight_ih"), _f64(weight_hh, "weight_hh")
    b_ih, b_hh = _f64(bias_ih, "bias_ih"), _f64(bias_hh, "bias_hh")
    T, B, _, H = _check_shapes(x, {"h0": h0}, w_ih, w_hh, b_ih, b_hh, 3)
    R, Z, N = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)

    out = np.empty((T, B, H))
    r_all, z_all, n_all = np.empty((T, B, H)), np.empty((T, B, H)), np.empty((T, B, H))
    hn_all = np.empty((T, B, H))  # W_hn h + b_hn (reset_after) or W_hn (r*h) + b_hn
    h = h0
    for t in range(T):
        gi = x[t] @ w_ih.T + b_ih
        r = _sigmoid(gi[:, R] + h @ w_hh[R].T + b_hh[R])
        z = _sigmoid(gi[:, Z] + h @ w_hh[Z].T + b_hh[Z])
        if reset_after:
            hn = h @ w_hh[N].T + b_hh[N]
            n = np.tanh(gi[:, N] + r * hn)
        else:
            hn = (r * h) @ w_hh[N].T + b_hh[N]
            n = np.tanh(gi[:, N] + hn)
        h = (1.0 - z) * n + z * h
        out[t], r_all[t], z_all[t], n_all[t], hn_all[t] = h, r, z, n, hn
    cache = dict(x=x, h0=h0, out=out, r=r_all, z=z_all, n=n_all, hn=hn_all,
                 weight_ih=w_ih, weight_hh=w_hh, reset_after=bool(reset_after))
    return out, cache


def gru_backward(dout, dh_last, cache):
    """Back-propagate through :func:`gru_forward`.

    Parameters
    ----------
    dout : array_like, shape (T, B, H)
        Gradient of the loss with respect to ``out``.
    dh_last : array_like, shape (B, H), or None
        Extra gradient on the final hidden state; None means zero.
    cache : dict
        As returned by :func:`gru_forward`.

    Returns
    -------
    dx : ndarray, shape (T, B, F)
    dh0 : ndarray, shape (B, H)
    grads : dict
        ``weight_ih`` (3H, F), ``weight_hh`` (3H, H), ``bias_ih`` (3H,), ``bias_hh`` (3H,).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, h0 = rng.normal(size=(5, 2, 3)), np.zeros((2, 4))
    >>> w_ih, w_hh = rng.normal(size=(12, 3)), rng.normal(size=(12, 4))
    >>> out, cache = gru_forward(x, h0, w_ih, w_hh, np.zeros(12), np.zeros(12))
    >>> dx, dh0, grads = gru_backward(np.ones_like(out), None, cache)
    >>> dx.shape
    (5, 2, 3)
    """
    x, h0, out = cache["x"], cache["h0"], cache["out"]
    w_ih, w_hh = cache["weight_ih"], cache["weight_hh"]
    T, B, F = x.shape
    H = h0.shape[1]
    R, Z, N = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    dout = _zeros_or(dout, (T, B, H), "dout")
    dh = _zeros_or(dh_last, (B, H), "dh_last")

    dx = np.empty_like(x)
    g = {"weight_ih": np.zeros_like(w_ih), "weight_hh": np.zeros_like(w_hh),
         "bias_ih": np.zeros(3 * H), "bias_hh": np.zeros(3 * H)}
    for t in range(T - 1, -1, -1):
        h_prev = out[t - 1] if t > 0 else h0
        r, z, n, hn = cache["r"][t], cache["z"][t], cache["n"][t], cache["hn"][t]
        dh = dh + dout[t]
        # h = (1 - z) n + z h_prev
        dn = dh * (1.0 - z)
        dz = dh * (h_prev - n)
        dh_prev = dh * z
        dan = dn * (1.0 - n * n)           # pre-activation of n
        daz = dz * z * (1.0 - z)           # pre-activation of z
        if cache["reset_after"]:
            # n = tanh(gi_n + r * hn), hn = W_hn h_prev + b_hn
            dr = dan * hn
            dhn = dan * r                  # gradient on W_hn h_prev + b_hn
            rh = h_prev
        else:
            # n = tanh(gi_n + W_hn (r h_prev) + b_hn)
            drh = dan @ w_hh[N]
            dr = drh * h_prev
            dh_prev = dh_prev + drh * r
            dhn = dan
            rh = r * h_prev
        dar = dr * r * (1.0 - r)
        dgi = np.concatenate([dar, daz, dan], axis=1)
        g["weight_ih"] += dgi.T @ x[t]
        g["bias_ih"] += dgi.sum(axis=0)
        dx[t] = dgi @ w_ih
        g["weight_hh"][R] += dar.T @ h_prev
        g["weight_hh"][Z] += daz.T @ h_prev
        g["weight_hh"][N] += dhn.T @ rh
        g["bias_hh"][R] += dar.sum(axis=0)
        g["bias_hh"][Z] += daz.sum(axis=0)
        g["bias_hh"][N] += dhn.sum(axis=0)
        dh_prev = dh_prev + dar @ w_hh[R] + daz @ w_hh[Z]
        if cache["reset_after"]:
            dh_prev = dh_prev + dhn @ w_hh[N]
        dh = dh_prev
    return dx, dh, g


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------
def lstm_forward(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh,
                 weight_ci=None, weight_cf=None, weight_co=None):
    """Run a single-layer LSTM, optionally with peephole connections, over a sequence.

    Rows of the weights are the gates i, f, g, o (PyTorch's order)::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi [+ w_ci * c_{t-1}])
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf [+ w_cf * c_{t-1}])
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        c_t = f_t * c_{t-1} + i_t * g_t
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho [+ w_co * c_t])
        h_t = o_t * tanh(c_t)

    The bracketed peephole terms are used when ``weight_ci``, ``weight_cf`` and ``weight_co``
    are given; the output gate looks at the new cell ``c_t``, the other two at ``c_{t-1}``.

    Parameters
    ----------
    x : array_like, shape (T, B, F)
    h0, c0 : array_like, shape (B, H)
    weight_ih : array_like, shape (4*H, F)
    weight_hh : array_like, shape (4*H, H)
    bias_ih, bias_hh : array_like, shape (4*H,)
    weight_ci, weight_cf, weight_co : array_like, shape (H,), optional
        Peephole weights; give all three or none.

    Returns
    -------
    out : ndarray, shape (T, B, H), float64
    (h_T, c_T) : tuple of ndarray, each (B, H)
        Final hidden and cell state.
    cache : dict
        Everything :func:`lstm_backward` needs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, h0, c0 = rng.normal(size=(5, 2, 3)), np.zeros((2, 4)), np.zeros((2, 4))
    >>> w_ih, w_hh = rng.normal(size=(16, 3)), rng.normal(size=(16, 4))
    >>> out, (h, c), cache = lstm_forward(x, h0, c0, w_ih, w_hh, np.zeros(16), np.zeros(16))
    >>> c.shape
    (2, 4)
    """
    peep = [weight_ci, weight_cf, weight_co]
    if any(p is None for p in peep) and not all(p is None for p in peep):
        raise ValueError("give all three peephole weights (weight_ci, weight_cf, weight_co) "
                         "or none")
    peephole = weight_ci is not None
    x, h0, c0 = _f64(x, "x"), _f64(h0, "h0"), _f64(c0, "c0")
    w_ih, w_hh = _f64(weight_ih, "weight_ih"), _f64(weight_hh, "weight_hh")
    b_ih, b_hh = _f64(bias_ih, "bias_ih"), _f64(bias_hh, "bias_hh")
    T, B, _, H = _check_shapes(x, {"h0": h0, "c0": c0}, w_ih, w_hh, b_ih, b_hh, 4)
    if peephole:
        names = ("weight_ci", "weight_cf", "weight_co")
        w_ci, w_cf, w_co = (_f64(p, n) for p, n in zip(peep, names))
        for name, p in (("weight_ci", w_ci), ("weight_cf", w_cf), ("weight_co", w_co)):
            if p.shape != (H,):
                raise ValueError(f"{name} has shape {p.shape}, expected {(H,)}")
    I, Fg, G, O = (slice(k * H, (k + 1) * H) for k in range(4))

    out = np.empty((T, B, H))
    cells = np.empty((T, B, H))
    gates = np.empty((T, B, 4 * H))  # post-activation i, f, g, o
    h, c = h0, c0
    for t in range(T):
        a = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        if peephole:
            a[:, I] += w_ci * c
            a[:, Fg] += w_cf * c
        i, f, g = _sigmoid(a[:, I]), _sigmoid(a[:, Fg]), np.tanh(a[:, G])
        c = f * c + i * g
        ao = a[:, O] + w_co * c if peephole else a[:, O]
        o = _sigmoid(ao)
        h = o * np.tanh(c)
        out[t], cells[t] = h, c
        gates[t] = np.concatenate([i, f, g, o], axis=1)
    cache = dict(x=x, h0=h0, c0=c0, out=out, cells=cells, gates=gates,
                 weight_ih=w_ih, weight_hh=w_hh, peephole=peephole)
    if peephole:
        cache.update(weight_ci=w_ci, weight_cf=w_cf, weight_co=w_co)
    return out, (h.copy(), c.copy()), cache


def lstm_backward(dout, dh_last, dc_last, cache):
    """Back-propagate through :func:`lstm_forward`.

    Parameters
    ----------
    dout : array_like, shape (T, B, H)
        Gradient of the loss with respect to ``out``.
    dh_last, dc_last : array_like, shape (B, H), or None
        Extra gradients on the final hidden and cell state; None means zero.
    cache : dict
        As returned by :func:`lstm_forward`.

    Returns
    -------
    dx : ndarray, shape (T, B, F)
    dh0, dc0 : ndarray, shape (B, H)
    grads : dict
        ``weight_ih`` (4H, F), ``weight_hh`` (4H, H), ``bias_ih`` (4H,), ``bias_hh`` (4H,), and
        for a peephole LSTM ``weight_ci``, ``weight_cf``, ``weight_co`` (H,).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, h0, c0 = rng.normal(size=(5, 2, 3)), np.zeros((2, 4)), np.zeros((2, 4))
    >>> w_ih, w_hh = rng.normal(size=(16, 3)), rng.normal(size=(16, 4))
    >>> out, _, cache = lstm_forward(x, h0, c0, w_ih, w_hh, np.zeros(16), np.zeros(16))
    >>> dx, dh0, dc0, grads = lstm_backward(np.ones_like(out), None, None, cache)
    >>> sorted(grads)
    ['bias_hh', 'bias_ih', 'weight_hh', 'weight_ih']
    """
    x, h0, c0, out, cells = cache["x"], cache["h0"], cache["c0"], cache["out"], cache["cells"]
    w_ih, w_hh, peephole = cache["weight_ih"], cache["weight_hh"], cache["peephole"]
    T, B, F = x.shape
    H = h0.shape[1]
    dout = _zeros_or(dout, (T, B, H), "dout")
    dh = _zeros_or(dh_last, (B, H), "dh_last")
    dc = _zeros_or(dc_last, (B, H), "dc_last")

    dx = np.empty_like(x)
    grads = {"weight_ih": np.zeros_like(w_ih), "weight_hh": np.zeros_like(w_hh),
             "bias_ih": np.zeros(4 * H), "bias_hh": np.zeros(4 * H)}
    if peephole:
        w_ci, w_cf, w_co = cache["weight_ci"], cache["weight_cf"], cache["weight_co"]
        for name in ("weight_ci", "weight_cf", "weight_co"):
            grads[name] = np.zeros(H)
    for t in range(T - 1, -1, -1):
        h_prev = out[t - 1] if t > 0 else h0
        c_prev = cells[t - 1] if t > 0 else c0
        c = cells[t]
        i, f, g, o = np.split(cache["gates"][t], 4, axis=1)
        tc = np.tanh(c)
        dh = dh + dout[t]
        # h = o * tanh(c)
        dao = dh * tc * o * (1.0 - o)
        dc = dc + dh * o * (1.0 - tc * tc)
        if peephole:
            dc = dc + dao * w_co            # o sees the new cell
        # c = f * c_prev + i * g
        dai = dc * g * i * (1.0 - i)
        daf = dc * c_prev * f * (1.0 - f)
        dag = dc * i * (1.0 - g * g)
        dc_prev = dc * f
        if peephole:
            dc_prev = dc_prev + dai * w_ci + daf * w_cf
            grads["weight_ci"] += (dai * c_prev).sum(axis=0)
            grads["weight_cf"] += (daf * c_prev).sum(axis=0)
            grads["weight_co"] += (dao * c).sum(axis=0)
        da = np.concatenate([dai, daf, dag, dao], axis=1)
        grads["weight_ih"] += da.T @ x[t]
        grads["weight_hh"] += da.T @ h_prev
        grads["bias_ih"] += da.sum(axis=0)
        grads["bias_hh"] += da.sum(axis=0)
        dx[t] = da @ w_ih
        dh = da @ w_hh
        dc = dc_prev
    return dx, dh, dc, grads
