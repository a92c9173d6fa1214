# cython: language_level=3
"""One GRU time step for B rows, forward and backward (inline, shared by the kernels).

Gate rows are ordered r, z, n as in PyTorch:
    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))        reset_after (PyTorch, cuDNN)
    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)        reset before (Cho et al. 2014)
    h' = (1 - z) * n + z * h
The per-step cache is (B, 4H): r, z, n and a fourth block that backward needs:
hn = W_hn h + b_hn (reset_after) or rh = r * h (reset before).
"""
from cython cimport floating

from tsrnn._kernels._activations cimport (dsigmoid_from_output, dtanh_from_output, sigmoid,
                                          tanh_)
from tsrnn._kernels._blas cimport fill_rows, recurrent_product, step_gemm
from tsrnn._kernels._parallel cimport column_sums_split, gemm_rows_split
from tsrnn._kernels._sequence cimport hidden_weight_gradient


cdef inline void gru_cell_forward(
        Py_ssize_t B, Py_ssize_t H, floating* gates, const floating* h_prev,
        const floating* w_hh, const floating* w_hh_t, const floating* b_hh, bint reset_after,
        floating* hproj, floating* h) noexcept nogil:
    """Advance B rows by one step.

    gates  (B, 4H) in: columns 0:3H hold x W_ih^T + b_ih; out: r, z, n, hn|rh
    h_prev (B, H) state at t-1; w_hh (3H, H); b_hh (3H,)
    w_hh_t (H, 3H) W_hh^T, or NULL (see ``recurrent_product``)
    hproj  (B, 3H) scratch for the hidden-side projection
    h      (B, H) out: state at t (must not alias h_prev)
    """
    cdef Py_ssize_t b, j, G = 4 * H, H3 = 3 * H
    cdef floating* row
    cdef floating* hrow
    cdef const floating* h_prev_row
    cdef floating* h_row
    cdef floating r, z, n
    cdef const floating* w_hn_t = NULL  # columns 2H:3H of W_hh^T
    if w_hh_t != NULL:
        w_hn_t = w_hh_t + 2 * H
    # loops go one row at a time, indexed by j only: a shape the C compiler vectorises
    if reset_after:
        # hproj = h_{t-1} W_hh^T + b_hh
        fill_rows(B, H3, b_hh, hproj, H3)
        recurrent_product(<int> B, <int> H3, <int> H, h_prev, <int> H, w_hh, <int> H, w_hh_t,
                          <int> H3, 1, hproj, <int> H3)
        for b in range(B):
            row = gates + b * G
            hrow = hproj + b * H3
            h_prev_row = h_prev + b * H
            h_row = h + b * H
            for j in range(H):
                r = sigmoid(row[j] + hrow[j])
                z = sigmoid(row[H + j] + hrow[H + j])
                n = tanh_(row[2 * H + j] + r * hrow[2 * H + j])
                row[j] = r
                row[H + j] = z
                row[2 * H + j] = n
                row[3 * H + j] = hrow[2 * H + j]
                h_row[j] = (1 - z) * n + z * h_prev_row[j]
    else:
        # r and z first: they need only h_{t-1}; then n needs (r * h_{t-1}) W_hn^T
        fill_rows(B, 2 * H, b_hh, hproj, H3)
        recurrent_product(<int> B, <int> (2 * H), <int> H, h_prev, <int> H, w_hh, <int> H,
                          w_hh_t, <int> H3, 1, hproj, <int> H3)
        for b in range(B):
            row = gates + b * G
            hrow = hproj + b * H3
            h_prev_row = h_prev + b * H
            for j in range(H):
                r = sigmoid(row[j] + hrow[j])
                row[j] = r
                row[H + j] = sigmoid(row[H + j] + hrow[H + j])
                row[3 * H + j] = r * h_prev_row[j]
        fill_rows(B, H, b_hh + 2 * H, hproj + 2 * H, H3)
        recurrent_product(<int> B, <int> H, <int> H, gates + 3 * H, <int> G,
                          w_hh + 2 * H * H, <int> H, w_hn_t, <int> H3, 1, hproj + 2 * H,
                          <int> H3)
        for b in range(B):
            row = gates + b * G
            hrow = hproj + b * H3
            h_prev_row = h_prev + b * H
            h_row = h + b * H
            for j in range(H):
                z = row[H + j]
                n = tanh_(row[2 * H + j] + hrow[2 * H + j])
                row[2 * H + j] = n
                h_row[j] = (1 - z) * n + z * h_prev_row[j]


cdef inline void gru_cell_backward(
        Py_ssize_t B, Py_ssize_t H, const floating* gates, const floating* h_prev,
        const floating* w_hh, bint reset_after, floating* dh, floating* dgx, floating* dgh,
        floating* drh) noexcept nogil:
    """Back-propagate one step for B rows.

    gates (B, 4H) r, z, n, hn|rh saved by the forward step; h_prev (B, H) state at t-1
    dh    (B, H) in: dL/dh_t; out: dL/dh_{t-1}
    dgx   (B, 3H) out: dL/d(input-side pre-activations), the rows of x W_ih^T + b_ih
    dgh   (B, 3H) out: dL/d(hidden-side pre-activations), the rows of h W_hh^T + b_hh
          (reset before: the n block is that of (r * h) W_hn^T + b_hn)
    drh   (B, H) scratch, reset before only: dL/d(r * h_{t-1})
    """
    cdef Py_ssize_t b, j, G = 4 * H, H3 = 3 * H
    cdef const floating* row
    cdef floating* xrow
    cdef floating* hrow
    cdef const floating* h_prev_row
    cdef floating* dh_row
    cdef floating* drh_row
    cdef floating r, z, n, dhv, dn_pre, dz_pre, dr_pre
    if reset_after:
        for b in range(B):
            row = gates + b * G
            xrow = dgx + b * H3
            hrow = dgh + b * H3
            h_prev_row = h_prev + b * H
            dh_row = dh + b * H
            for j in range(H):
                r = row[j]
                z = row[H + j]
                n = row[2 * H + j]
                dhv = dh_row[j]
                # h' = (1 - z) n + z h;  n = tanh(xn + r hn)
                dn_pre = dhv * (1 - z) * dtanh_from_output(n)
                dz_pre = dhv * (h_prev_row[j] - n) * dsigmoid_from_output(z)
                dr_pre = dn_pre * row[3 * H + j] * dsigmoid_from_output(r)
                xrow[j] = dr_pre
                xrow[H + j] = dz_pre
                xrow[2 * H + j] = dn_pre
                hrow[j] = dr_pre
                hrow[H + j] = dz_pre
                hrow[2 * H + j] = dn_pre * r
                dh_row[j] = dhv * z
        # dh_{t-1} = z dh_t + dgh W_hh
        step_gemm(False, <int> B, <int> H, <int> H3, dgh, <int> H3, w_hh, <int> H,
                  1, dh, <int> H)
    else:
        for b in range(B):
            row = gates + b * G
            xrow = dgx + b * H3
            hrow = dgh + b * H3
            h_prev_row = h_prev + b * H
            dh_row = dh + b * H
            for j in range(H):
                z = row[H + j]
                n = row[2 * H + j]
                dhv = dh_row[j]
                dn_pre = dhv * (1 - z) * dtanh_from_output(n)
                dz_pre = dhv * (h_prev_row[j] - n) * dsigmoid_from_output(z)
                xrow[H + j] = dz_pre
                xrow[2 * H + j] = dn_pre
                hrow[H + j] = dz_pre
                hrow[2 * H + j] = dn_pre
        # d(r h) = dn_pre W_hn
        step_gemm(False, <int> B, <int> H, <int> H, dgh + 2 * H, <int> H3,
                  w_hh + 2 * H * H, <int> H, 0, drh, <int> H)
        for b in range(B):
            row = gates + b * G
            xrow = dgx + b * H3
            hrow = dgh + b * H3
            h_prev_row = h_prev + b * H
            dh_row = dh + b * H
            drh_row = drh + b * H
            for j in range(H):
                r = row[j]
                dr_pre = drh_row[j] * h_prev_row[j] * dsigmoid_from_output(r)
                xrow[j] = dr_pre
                hrow[j] = dr_pre
                dh_row[j] = dh_row[j] * row[H + j] + drh_row[j] * r
        # dh_{t-1} += [dr_pre, dz_pre] W_h{r,z}
        step_gemm(False, <int> B, <int> H, <int> (2 * H), dgh, <int> H3, w_hh, <int> H,
                  1, dh, <int> H)


cdef inline void gru_weight_gradients(
        int threads, Py_ssize_t T, Py_ssize_t B, Py_ssize_t F, Py_ssize_t H, const floating* x,
        const floating* h0, const floating* h_seq, const floating* gates, const floating* dgx,
        const floating* dgh, bint reset_after, floating* dw_ih, floating* dw_hh,
        floating* db_ih, floating* db_hh) noexcept nogil:
    """Parameter gradients from the stacked gate gradients of all T steps (after the loop).

    x (T, B, F) layer input; h0 (B, H); h_seq (T, B, H); gates (T, B, 4H) the forward cache;
    dgx, dgh (T, B, 3H) input- and hidden-side gradients.
    Outputs (overwritten): dw_ih (3H, F), dw_hh (3H, H), db_ih, db_hh (3H,). The products
    are split among ``threads``.
    """
    cdef Py_ssize_t H3 = 3 * H
    gemm_rows_split(threads, True, False, H3, F, T * B, 1, dgx, H3, x, F, 0, dw_ih, F)
    if reset_after:
        hidden_weight_gradient(threads, T, B, H3, H, dgh, H3, h0, h_seq, H, dw_hh, H)
    else:
        # r, z rows see h_{t-1}; n rows see r * h_{t-1}, cached in columns 3H:4H
        hidden_weight_gradient(threads, T, B, 2 * H, H, dgh, H3, h0, h_seq, H, dw_hh, H)
        gemm_rows_split(threads, True, False, H, H, T * B, 1, dgh + 2 * H, H3, gates + 3 * H,
                        4 * H, 0, dw_hh + 2 * H * H, H)
    column_sums_split(threads, T * B, H3, dgx, H3, db_ih)
    column_sums_split(threads, T * B, H3, dgh, H3, db_hh)
