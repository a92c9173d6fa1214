"""RNNForecaster(n_models=k): members with their own seeds, trained side by side, averaged."""

import copy

import numpy as np
import pytest

from tsrnn import RNNForecaster

FAST = dict(hidden_size=4, max_epochs=2, batch_size=4, tbptt=10, free_run=5,
            early_stopping=False, random_state=0, n_models=3)


def sine(n, period=20.0, seed=0):
    t = np.arange(n)
    return np.sin(2 * np.pi * t / period) + 0.05 * np.random.default_rng(seed).normal(size=n)


def fast(**options):
    return RNNForecaster(**{**FAST, **options})


def test_the_forecast_is_the_mean_of_members_with_different_weights():
    f = fast().fit(sine(200))
    assert len(f.members_) == 3 and all(m.n_models == 1 for m in f.members_)
    weights = [m.network_.state_dict()["head.weight"] for m in f.members_]
    assert not np.array_equal(weights[0], weights[1])
    single = [m._predict_member(7, None, None, None)[0] for m in f.members_]
    np.testing.assert_allclose(f.predict(7), np.mean(single, axis=0)[:, 0] * f.y_scale_[0, 0]
                               + f.y_mean_[0, 0], rtol=1e-12)
    assert f.network_ is f.members_[0].network_


def test_a_seed_makes_the_ensemble_reproducible():
    y = sine(200)
    np.testing.assert_array_equal(fast().fit(y).predict(5), fast().fit(y).predict(5))
    assert not np.array_equal(fast(random_state=1).fit(y).predict(5), fast().fit(y).predict(5))


def test_update_then_predict_equals_predict_from_all_data():
    y = sine(260)
    f = fast().fit(y[:200])
    f.update(y[200:])
    np.testing.assert_allclose(f.predict(6), f.predict(6, context=y), rtol=1e-5, atol=1e-6)


def test_context_length_set_after_fit_reaches_every_member():
    y = sine(200)
    f = fast().fit(y)
    short = copy.deepcopy(f).set_params(context_length=25)
    np.testing.assert_allclose(short.predict(5, context=y), short.predict(5, context=y[-25:]),
                               rtol=1e-6)
    assert not np.array_equal(short.predict(5, context=y), f.predict(5, context=y))


def test_save_and_load_keep_every_member(tmp_path):
    y = sine(220)
    f = fast(early_stopping=True, max_epochs=3).fit(y[:200])
    f.save(tmp_path / "ensemble.tsrnn")
    g = RNNForecaster.load(tmp_path / "ensemble.tsrnn")
    assert len(g.members_) == 3
    np.testing.assert_array_equal(g.predict(8), f.predict(8))
    f.update(y[200:])
    g.update(y[200:])
    np.testing.assert_array_equal(g.predict(8), f.predict(8))
    before = [m.n_iter_ for m in g.members_]
    g.partial_fit(y)
    assert [m.n_iter_ for m in g.members_] == [n + 1 for n in before]


def test_partial_fit_and_warm_start_continue_every_member():
    y = sine(200)
    f = fast(warm_start=True).fit(y)
    before = [m.n_iter_ for m in f.members_]
    f.fit(y)
    assert [m.n_iter_ for m in f.members_] == [n + 2 for n in before]
    f.partial_fit(y)
    assert [m.n_iter_ for m in f.members_] == [n + 3 for n in before]


def test_a_failed_continuation_leaves_the_members_as_they_were():
    y = sine(200)
    f = fast(warm_start=True).fit(y)
    forecast, members = f.predict(5), list(f.members_)
    f.set_params(hidden_size=7)
    with pytest.raises(ValueError, match="cannot continue training"):
        f.fit(y)
    assert f.members_ == members
    np.testing.assert_array_equal(f.predict(5), forecast)


def test_one_model_has_no_members_after_an_ensemble():
    y = sine(200)
    f = fast().fit(y)
    f.set_params(n_models=1).fit(y)
    assert not hasattr(f, "members_") and f.predict(3).shape == (3,)


def test_n_models_is_validated():
    with pytest.raises(ValueError, match="n_models"):
        fast(n_models=0).fit(sine(100))
    with pytest.raises(TypeError, match="n_models"):
        fast(n_models=1.5).fit(sine(100))
