"""Training: the loss goes down, seeds reproduce, checkpoints resume, saved models predict alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from voxelomics.deep.data import build_crops
from voxelomics.deep.persist import load_deep_model, save_deep_model
from voxelomics.deep.targets import make_target
from voxelomics.deep.train import inner_split, predict_outputs, train_net
from voxelomics.io import read_manifest


@pytest.fixture(scope="module")
def data(cohort_dir, tiny_settings, tmp_path_factory):
    cases = read_manifest(cohort_dir / "manifest.csv")
    crops = build_crops(cases, tiny_settings.crop, cache_dir=tmp_path_factory.mktemp("crops"),
                        progress=False)
    target = make_target([c.extra["y"] for c in cases], columns={"target": "y"})
    groups = np.array([c.extra["patient_id"] for c in cases])
    fit, val = inner_split(target, np.arange(len(cases)), val_fraction=0.25, seed=0, groups=groups)
    return crops.arrays, target, fit, val, groups


def _weights(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_inner_split_keeps_patients_on_one_side(data):
    _, target, fit, val, groups = data
    assert set(groups[fit]).isdisjoint(groups[val])
    assert sorted(np.r_[fit, val]) == list(range(len(groups)))
    assert set(target.y[val]) == {0, 1}


def test_training_reduces_the_loss(data, tiny_settings):
    arrays, target, fit, val, _ = data
    s = tiny_settings.replace(train__epochs=12, augment__enabled=False)
    res = train_net(arrays, target, fit, val, s, seed=3)
    loss = [h["loss"] for h in res.history]
    assert len(loss) == 12
    assert np.mean(loss[-3:]) < 0.7 * np.mean(loss[:2])
    assert res.history[-1]["val_metric"] >= 0.75  # the two sphere classes are easy to tell apart


def test_same_seed_same_weights_other_seed_other_weights(data, tiny_settings):
    arrays, target, fit, val, _ = data
    a = train_net(arrays, target, fit, val, tiny_settings, seed=5)
    b = train_net(arrays, target, fit, val, tiny_settings, seed=5)
    c = train_net(arrays, target, fit, val, tiny_settings, seed=6)
    assert _same(_weights(a.net), _weights(b.net))
    assert a.history == [dict(h, seconds=a.history[i]["seconds"]) for i, h in enumerate(b.history)]
    assert not _same(_weights(a.net), _weights(c.net))


def test_checkpoint_resumes_to_the_weights_of_an_uninterrupted_run(data, tiny_settings, tmp_path):
    arrays, target, fit, val, _ = data
    s4 = tiny_settings.replace(train__epochs=4)
    straight = train_net(arrays, target, fit, val, s4, seed=2)
    ck = tmp_path / "cut.ckpt"
    _interrupted_after(arrays, target, fit, val, s4, seed=2, checkpoint=ck, epochs=2)  # "killed"
    res = train_net(arrays, target, fit, val, s4, seed=2, checkpoint=ck, resume=True)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    assert _same(_weights(res.net), _weights(straight.net))
    assert [h["loss"] for h in res.history] == [h["loss"] for h in straight.history]


def _interrupted_after(arrays, target, fit, val, settings, *, seed, checkpoint, epochs):
    """Run the training loop and stop it (as a kill would) once ``epochs`` epochs are saved."""
    import voxelomics.deep.train as tr

    real = tr._save_checkpoint

    class Stop(Exception):
        pass

    def save_then_stop(path, fingerprint, net, opt, state):
        real(path, fingerprint, net, opt, state)
        if state["epoch"] >= epochs:
            raise Stop

    tr._save_checkpoint = save_then_stop
    try:
        with pytest.raises(Stop):
            train_net(arrays, target, fit, val, settings, seed=seed, checkpoint=checkpoint)
    finally:
        tr._save_checkpoint = real


def test_checkpoint_of_another_run_is_refused(data, tiny_settings, tmp_path):
    from voxelomics.errors import ModelError

    arrays, target, fit, val, _ = data
    ck = tmp_path / "a.ckpt"
    train_net(arrays, target, fit, val, tiny_settings.replace(train__epochs=1), seed=1, checkpoint=ck)
    with pytest.raises(ModelError, match="another run"):
        train_net(arrays, target, fit, val, tiny_settings.replace(train__epochs=1), seed=9,
                  checkpoint=ck, resume=True)


def test_predictions_identical_after_save_and_load(data, tiny_settings, tmp_path):
    arrays, target, fit, val, _ = data
    res = train_net(arrays, target, fit, val, tiny_settings, seed=4)
    before = predict_outputs(res.net, arrays)
    save_deep_model(res.net, {"task": target.task, "n_outputs": 1, "in_channels": arrays.shape[1],
                              "settings": tiny_settings.model_dump(mode="json")}, tmp_path / "m")
    saved = load_deep_model(tmp_path / "m")
    assert np.array_equal(before, predict_outputs(saved.net, arrays))
    state = torch.load(tmp_path / "m" / "model.pt", weights_only=True)  # tensors only: no code
    assert all(isinstance(v, torch.Tensor) for v in state.values())


@pytest.mark.parametrize("task,kw", [
    ("multiclass", {"values_col": "grade"}),
    ("regression", {"values_col": "score"}),
    ("survival", {}),
])
def test_every_task_trains(cohort_dir, data, tiny_settings, task, kw):
    arrays, _, fit, val, _ = data
    cases = read_manifest(cohort_dir / "manifest.csv")
    if task == "survival":
        target = make_target(time=[c.extra["time"] for c in cases], event=[c.extra["event"] for c in cases])
    else:
        target = make_target([c.extra[kw["values_col"]] for c in cases], task=task)
    res = train_net(arrays, target, fit, val, tiny_settings.replace(train__epochs=2), seed=0)
    out = predict_outputs(res.net, arrays)
    assert out.shape == (len(cases), target.n_outputs) and np.isfinite(out).all()
    assert all(np.isfinite(h["loss"]) for h in res.history)


def test_platt_recalibration_recovers_a_known_calibration():
    """Logits scaled and shifted by a known amount: the fit undoes it (simulation, known truth)."""
    from voxelomics.deep.train import platt, scores_from_outputs

    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2, 20000)
    y = (rng.uniform(size=true_logit.size) < 1 / (1 + np.exp(-true_logit))).astype(int)
    raw = (true_logit - 1.5) / 0.5  # what an over-confident, shifted network would output
    a, b = platt(raw, y)
    assert a == pytest.approx(1.5, abs=0.1) and b == pytest.approx(0.5, abs=0.03)
    p = scores_from_outputs("classification", raw[:, None], (a, b))
    assert np.allclose(p, 1 / (1 + np.exp(-true_logit)), atol=0.03)
    assert platt(raw[:10], np.zeros(10)) == (0.0, 1.0)  # one class: left as it is


def test_platt_on_a_small_separable_validation_split_keeps_the_ranking_visible():
    """8 validation rows (a tiny run): the slope is neither shrunk to 0 nor infinite.

    With sklearn's default L2 penalty the slope fell to ~0 and each fold's probabilities were
    all nearly one value, so pooling folds ranked by fold, not by case (found by a new user).
    """
    from voxelomics.deep.train import platt

    x = np.array([-1.4, -1.1, -0.9, -0.7, -0.6, -0.4, 0.8, 1.2])
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    a, b = platt(x, y)
    p = 1 / (1 + np.exp(-(a + b * x)))
    assert 0.5 < b < 50 and np.isfinite(a)
    # Platt's regularised targets: 1/(N- + 2) = 0.125 and (N+ + 1)/(N+ + 2) = 0.75 bound the fit
    assert p[:6].max() < 0.3 and p[6:].min() > 0.6
