/* The row functions of _lstm_rows.h, once per element type: included with T (the element
 * type), NAME(f) (f with the type's suffix), SIGMOID and TANH defined. */

/* Forward: activate the gates of one row and advance its cell. Three short loops rather than
 * one: with all five activations in one body the vector registers spill (1.6x slower at
 * H = 16). */
TSRNN_ROW_FUNCTION void NAME(tsrnn_lstm_forward_row)(
    int H, T *TSRNN_RESTRICT gates, const T *TSRNN_RESTRICT c_prev,
    const T *TSRNN_RESTRICT peep, T *TSRNN_RESTRICT h, T *TSRNN_RESTRICT c)
{
    /* the four gate blocks of the row never overlap */
    T *TSRNN_RESTRICT gi = gates;
    T *TSRNN_RESTRICT gf = gates + H;
    T *TSRNN_RESTRICT gg = gates + 2 * H;
    T *TSRNN_RESTRICT go = gates + 3 * H;
    const T *TSRNN_RESTRICT w_ci = peep;
    const T *TSRNN_RESTRICT w_cf = peep + H;
    const T *TSRNN_RESTRICT w_co = peep + 2 * H;
    for (int j = 0; j < H; j++) {
        gi[j] = SIGMOID(gi[j] + w_ci[j] * c_prev[j]);
        gf[j] = SIGMOID(gf[j] + w_cf[j] * c_prev[j]);
    }
    for (int j = 0; j < H; j++)
        gg[j] = TANH(gg[j]);
    for (int j = 0; j < H; j++) {
        T cn = gf[j] * c_prev[j] + gi[j] * gg[j];
        T o = SIGMOID(go[j] + w_co[j] * cn);
        go[j] = o;
        c[j] = cn;
        h[j] = o * TANH(cn);
    }
}

/* Backward through the gates of one row. dh (in: dL/dh_t) is left for the caller's product
 * dh_{t-1} = dgates W_hh; dc goes from dL/dc_t (arriving from t+1) to dL/dc_{t-1}; dgates
 * gets dL/d(pre-activation) of i, f, g, o. Derivatives come from the saved outputs:
 * sigmoid' = y (1 - y), tanh' = 1 - y^2. */
TSRNN_ROW_FUNCTION void NAME(tsrnn_lstm_backward_row)(
    int H, const T *TSRNN_RESTRICT gates, const T *TSRNN_RESTRICT c_prev,
    const T *TSRNN_RESTRICT c, const T *TSRNN_RESTRICT peep, const T *TSRNN_RESTRICT dh,
    T *TSRNN_RESTRICT dc, T *TSRNN_RESTRICT dgates)
{
    const T *TSRNN_RESTRICT gi = gates;
    const T *TSRNN_RESTRICT gf = gates + H;
    const T *TSRNN_RESTRICT gg = gates + 2 * H;
    const T *TSRNN_RESTRICT go = gates + 3 * H;
    T *TSRNN_RESTRICT di = dgates;
    T *TSRNN_RESTRICT df = dgates + H;
    T *TSRNN_RESTRICT dg = dgates + 2 * H;
    T *TSRNN_RESTRICT dout = dgates + 3 * H;
    const T *TSRNN_RESTRICT w_ci = peep;
    const T *TSRNN_RESTRICT w_cf = peep + H;
    const T *TSRNN_RESTRICT w_co = peep + 2 * H;
    for (int j = 0; j < H; j++) {
        T i = gi[j], f = gf[j], g = gg[j], o = go[j];
        T tc = TANH(c[j]);
        /* h = o tanh(c): through o (and its peephole on c), and through c */
        T do_pre = dh[j] * tc * o * (1 - o);
        T dct = dc[j] + dh[j] * o * (1 - tc * tc) + do_pre * w_co[j];
        /* c = f c_prev + i g */
        T di_pre = dct * g * i * (1 - i);
        T df_pre = dct * c_prev[j] * f * (1 - f);
        di[j] = di_pre;
        df[j] = df_pre;
        dg[j] = dct * i * (1 - g * g);
        dout[j] = do_pre;
        dc[j] = dct * f + di_pre * w_ci[j] + df_pre * w_cf[j];
    }
}
