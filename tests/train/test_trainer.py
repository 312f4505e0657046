"""Trainer, batching, predict_proba and checkpoints on tiny synthetic problems."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from avemo.errors import CheckpointError, ParameterError
from avemo.models import create_model, list_models
from avemo.models.registry import model_class
from avemo.train import TrainConfig, collate, fit, load_checkpoint, predict_proba, save_checkpoint, seed_everything
from avemo.train.trainer import class_weights

DIM = 6
SPEECH = ["attention_head", "bilstm", "cnn", "cnn_lstm", "gru", "mlp", "transformer"]


def sign_problem(n: int, seed: int, vector: bool = False, aux_dim: int = 0):
    """3 classes from the sign pattern of the first two features: (+,+) -> 0, (-,*) -> 1, (+,-) -> 2."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(n):
        label = i % 3
        s0 = 1.0 if label in (0, 2) else -1.0
        s1 = 1.0 if label == 0 else (-1.0 if label == 2 else rng.choice([-1.0, 1.0]))
        frames = int(rng.integers(5, 16))
        x = rng.normal(0, 0.5, size=(frames, DIM)).astype(np.float32)
        x[:, 0] += s0
        x[:, 1] += s1
        xs.append(x.mean(0) if vector else x)
        ys.append(label)
    aux = rng.normal(size=(n, aux_dim)).astype(np.float32) if aux_dim else None
    return xs, np.array(ys), aux


def no_dropout(name: str) -> dict:
    return {f.name: 0.0 for f in dataclasses.fields(model_class(name).config_class) if f.name.endswith("dropout")}


def small(name: str, aux_dim: int = 0, **overrides):
    cfg = {"cnn": {"channels": [16, 16]}, "cnn_lstm": {"channels": [16, 16], "hidden": 16},
           "bilstm": {"proj_dim": 16, "hidden": 16, "num_layers": 1}, "gru": {"proj_dim": 16, "hidden": 16},
           "transformer": {"d_model": 32, "ff_dim": 64, "num_layers": 1}, "attention_head": {"proj_dim": 32},
           "mlp": {"hidden": [32]}}.get(name, {})
    return create_model(name, DIM, 3, aux_dim=aux_dim, config={**cfg, "head_hidden": 16, **overrides})


# -- batching and helpers -------------------------------------------------------------------------------------

def test_collate_pads_and_masks():
    a, b = np.ones((3, DIM), np.float32), 2 * np.ones((5, DIM), np.float32)
    batch = collate([a, b], labels=[0, 2], aux=np.zeros((2, 4)))
    assert batch.x.shape == (2, 5, DIM) and batch.mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert torch.all(batch.x[0, 3:] == 0) and batch.labels.tolist() == [0, 2] and batch.aux.shape == (2, 4)
    cropped = collate([np.arange(20.0).reshape(10, 2)], max_frames=4, rng=np.random.default_rng(0))
    assert cropped.x.shape == (1, 4, 2)
    vec = collate([np.zeros(DIM), np.ones(DIM)])
    assert vec.x.shape == (2, DIM) and vec.mask is None
    with pytest.raises(ParameterError):
        collate([np.zeros((0, DIM))])
    with pytest.raises(ParameterError):
        collate([np.zeros((3, DIM)), np.zeros((3, DIM + 1))])


def test_class_weights_inverse_frequency():
    w = class_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    assert w.tolist() == pytest.approx([6 / 9, 2.0, 1.0, 0.0])
    labels = np.array([0, 0, 0, 1, 2, 2])
    assert float(w[labels].mean()) == pytest.approx(1.0)


def test_train_config_validation():
    with pytest.raises(ParameterError):
        TrainConfig(epochs=0)
    with pytest.raises(ParameterError):
        TrainConfig(scheduler="step")
    with pytest.raises(ParameterError):
        TrainConfig(label_smoothing=1.0)
    with pytest.raises(ParameterError, match="precision"):
        TrainConfig(precision="fp16")
    with pytest.raises(ParameterError, match="average_from"):
        TrainConfig(epochs=3, average_from=4)


def test_fit_rejects_bad_data():
    xs, ys, _ = sign_problem(6, 0)
    model = small("cnn")
    with pytest.raises(ParameterError, match="shape"):
        fit(model, [x[:, :3] for x in xs], ys, config=TrainConfig(epochs=1))
    with pytest.raises(ParameterError, match="labels"):
        fit(model, xs, ys + 3, config=TrainConfig(epochs=1))
    with pytest.raises(ParameterError, match="aux"):
        fit(small("cnn", aux_dim=2), xs, ys, config=TrainConfig(epochs=1))


# -- training -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in SPEECH if n in list_models()])
def test_one_batch_overfit(name):
    vector = model_class(name).input_kind == "vector"
    xs, ys, _ = sign_problem(24, 0, vector=vector)
    seed_everything(0)
    model = small(name, **no_dropout(name))
    history = fit(model, xs, ys, config=TrainConfig(epochs=40, batch_size=24, lr=3e-3, weight_decay=0.0,
                                                    scheduler="none"))
    acc = float((predict_proba(model, xs).argmax(1) == ys).mean())
    assert acc > 0.9, f"{name}: train accuracy {acc:.2f} after {len(history.epoch)} steps"
    assert history.train_loss[-1] < history.train_loss[0]


def test_fit_with_validation_aux_mixup_crop_and_history():
    xs, ys, aux = sign_problem(30, 1, aux_dim=3)
    vxs, vys, vaux = sign_problem(12, 2, aux_dim=3)
    seed_everything(0)
    model = small("attention_head", aux_dim=3)
    cfg = TrainConfig(epochs=8, batch_size=8, patience=3, max_frames=6, mixup=0.4, label_smoothing=0.1,
                      scheduler="plateau")
    history = fit(model, xs, ys, vxs, vys, train_aux=aux, val_aux=vaux, config=cfg)
    n = len(history.epoch)
    assert 1 <= n <= 8 and history.epoch == list(range(1, n + 1))
    assert len(history.train_loss) == len(history.val_loss) == len(history.val_ua) == len(history.lr) == n
    assert 1 <= history.best_epoch <= n and history.best_val_ua == max(history.val_ua)
    assert history.stopped_early == (n < 8)
    probs = predict_proba(model, vxs, vaux)
    assert probs.shape == (12, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    json.dumps(history.to_dict())


def test_bf16_training_learns_images_and_leaves_float32_contiguous_weights():
    """bfloat16 autocast (channels-last images) trains a face CNN on two bright-half patterns as well as float32."""
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(48):
        img = rng.integers(0, 60, (1, 12, 12)).astype(np.uint8)
        img[0, :6] += 150 if i % 2 else 0  # class 1: bright top half
        img[0, 6:] += 0 if i % 2 else 150  # class 0: bright bottom half
        xs.append(img)
        ys.append(i % 2)
    ys = np.array(ys)
    seed_everything(0)
    model = create_model("face_cnn", 1, 2, config={"channels": [8, 16], "convs_per_block": 1, "dropout": 0.0,
                                                   "block_dropout": 0.0})
    history = fit(model, xs, ys, xs, ys, config=TrainConfig(epochs=15, batch_size=16, lr=3e-3, precision="bf16"))
    assert history.best_val_ua == 1.0
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in model.parameters())
    assert float((predict_proba(model, xs).argmax(1) == ys).mean()) == 1.0


def test_bf16_falls_back_to_float32_on_a_cpu_without_native_bfloat16(monkeypatch, caplog):
    import avemo.train.trainer as trainer

    monkeypatch.setattr(trainer, "native_bf16", lambda: False)
    xs, ys, _ = sign_problem(12, 12)
    seed_everything(0)
    history = fit(small("cnn"), xs, ys, config=TrainConfig(epochs=1, batch_size=4, precision="bf16"))
    assert history.precision == "fp32" and "training in float32" in caplog.text


def test_weight_average_is_the_mean_of_the_averaged_epochs_with_fresh_batch_norm_statistics():
    """Without a validation set the returned weights are the mean of epochs average_from..epochs; batch norm's
    running statistics are recomputed for them (not the last epoch's)."""
    rng = np.random.default_rng(1)
    xs = [rng.integers(0, 255, (1, 12, 12)).astype(np.uint8) for _ in range(16)]
    ys = np.arange(16) % 2
    seed_everything(0)
    model = create_model("face_cnn", 1, 2, config={"channels": [4, 8], "convs_per_block": 1})
    snapshots = {}

    def remember(epoch, history):
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    history = fit(model, xs, ys, config=TrainConfig(epochs=4, batch_size=8, lr=1e-2, scheduler="none",
                                                    average_from=2), callback=remember)
    assert history.averaged_epochs == 3 and history.used_average
    state = model.state_dict()
    for name, _ in model.named_parameters():
        mean = torch.stack([snapshots[e][name] for e in (2, 3, 4)]).mean(0)
        torch.testing.assert_close(state[name], mean, atol=1e-6, rtol=1e-5)
    norm_means = [k for k in state if k.endswith("running_mean")]
    assert norm_means and not all(torch.equal(state[k], snapshots[4][k]) for k in norm_means)


def test_weight_average_is_kept_only_when_it_wins_on_validation_and_survives_a_crash(tmp_path):
    xs, ys, _ = sign_problem(24, 10)
    vxs, vys, _ = sign_problem(12, 11)
    cfg = TrainConfig(epochs=4, batch_size=8, lr=1e-2, patience=10, scheduler="none", average_from=2)
    seed_everything(0)
    reference_model = small("cnn")
    reference = fit(reference_model, xs, ys, vxs, vys, config=cfg)
    assert reference.averaged_epochs == 3 and 0.0 <= reference.average_val_ua <= 1.0
    assert reference.used_average == (reference.average_val_ua > reference.best_val_ua)

    seed_everything(0)
    with pytest.raises(Crash):
        fit(small("cnn"), xs, ys, vxs, vys, config=cfg, checkpoint_dir=tmp_path, callback=crash_at(3))
    seed_everything(5)
    model = small("cnn")
    history = fit(model, xs, ys, vxs, vys, config=cfg, checkpoint_dir=tmp_path)
    assert history.resumed_from == 3 and history.average_val_ua == reference.average_val_ua
    for k, v in reference_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, atol=1e-6, rtol=0)


def test_early_stopping_restores_best_weights():
    xs, ys, _ = sign_problem(24, 3)
    vxs, vys, _ = sign_problem(12, 4)
    seed_everything(0)
    model = small("gru")
    snapshots = {}

    def remember(epoch, history):
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    history = fit(model, xs, ys, vxs, vys, config=TrainConfig(epochs=6, batch_size=8, lr=1e-2), callback=remember)
    best = snapshots[history.best_epoch]
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())


def test_select_on_accuracy_keeps_the_epoch_of_best_validation_accuracy():
    xs, ys, _ = sign_problem(24, 13)
    vxs, vys, _ = sign_problem(13, 14)
    vys = np.where(np.arange(13) < 9, vys, 0)  # unbalanced validation set: accuracy and UA can disagree
    seed_everything(0)
    model = small("gru")
    snapshots = {}

    def remember(epoch, history):
        snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    history = fit(model, xs, ys, vxs, vys, callback=remember,
                  config=TrainConfig(epochs=6, batch_size=8, lr=1e-2, select_on="accuracy"))
    assert history.val_wa[history.best_epoch - 1] == max(history.val_wa)
    assert all(torch.equal(snapshots[history.best_epoch][k], v) for k, v in model.state_dict().items())
    with pytest.raises(ParameterError, match="select_on"):
        TrainConfig(select_on="f1")


def test_predict_proba_keeps_order():
    xs, ys, _ = sign_problem(10, 5)
    model = small("bilstm").eval()
    probs = predict_proba(model, xs, batch_size=3)
    with torch.no_grad():
        single = np.stack([torch.softmax(model(torch.from_numpy(x)[None]), -1)[0].numpy() for x in xs])
    np.testing.assert_allclose(probs, single, atol=1e-5)


def test_determinism_same_seed_same_result():
    xs, ys, _ = sign_problem(24, 6)
    vxs, vys, _ = sign_problem(12, 7)
    runs = []
    for _ in range(2):
        seed_everything(0)
        model = small("cnn_lstm")
        runs.append(fit(model, xs, ys, vxs, vys, config=TrainConfig(epochs=3, batch_size=8, mixup=0.2,
                                                                   max_frames=8)))
    assert runs[0].val_ua == runs[1].val_ua
    assert runs[0].train_loss == runs[1].train_loss and runs[0].val_loss == runs[1].val_loss


# -- resume ---------------------------------------------------------------------------------------------------

class Crash(RuntimeError):
    pass


def crash_at(stop_epoch: int):
    """A training callback that simulates a crash right after epoch ``stop_epoch`` (its state already saved)."""
    def callback(epoch, history):
        if epoch == stop_epoch:
            raise Crash("simulated crash")
    return callback


def test_resume_continues_from_last_completed_epoch(tmp_path):
    xs, ys, _ = sign_problem(24, 8)
    vxs, vys, _ = sign_problem(12, 9)
    cfg = TrainConfig(epochs=4, batch_size=8, patience=10)

    seed_everything(0)
    reference_model = small("bilstm")
    reference = fit(reference_model, xs, ys, vxs, vys, config=cfg)

    seed_everything(0)
    with pytest.raises(Crash):
        fit(small("bilstm"), xs, ys, vxs, vys, config=cfg, checkpoint_dir=tmp_path, callback=crash_at(2))
    saved = json.loads((tmp_path / "train_state.json").read_text())
    assert saved["epoch"] == 2

    seen = []
    seed_everything(123)  # a fresh process would build the model with other initial weights: they are replaced
    model = small("bilstm")
    history = fit(model, xs, ys, vxs, vys, config=cfg, checkpoint_dir=tmp_path,
                  callback=lambda epoch, h: seen.append(epoch))
    assert seen == [3, 4]  # continued from epoch 2, not 0
    assert history.resumed_from == 2 and history.epoch == [1, 2, 3, 4]
    # the interrupted run reproduces the uninterrupted one
    assert history.val_ua == reference.val_ua
    np.testing.assert_allclose(history.train_loss, reference.train_loss, rtol=1e-6)
    for k, v in reference_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, atol=1e-6, rtol=0)

    # a finished run resumes to the end at once
    again = fit(small("bilstm"), xs, ys, vxs, vys, config=cfg, checkpoint_dir=tmp_path,
                callback=lambda epoch, h: seen.append(epoch))
    assert seen == [3, 4] and again.epoch == [1, 2, 3, 4]


def test_resume_refuses_a_different_run(tmp_path):
    xs, ys, _ = sign_problem(12, 10)
    fit(small("cnn"), xs, ys, config=TrainConfig(epochs=1), checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="different run"):
        fit(small("cnn"), xs, ys, config=TrainConfig(epochs=1, lr=0.1), checkpoint_dir=tmp_path)
    (tmp_path / "train_state.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        fit(small("cnn"), xs, ys, config=TrainConfig(epochs=1), checkpoint_dir=tmp_path)


# -- checkpoints ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in SPEECH if n in list_models()])
def test_checkpoint_round_trip(tmp_path, name):
    vector = model_class(name).input_kind == "vector"
    xs, ys, aux = sign_problem(6, 11, vector=vector, aux_dim=2)
    model = small(name, aux_dim=2)
    fit(model, xs, ys, train_aux=aux, config=TrainConfig(epochs=1, batch_size=3))  # non-trivial BN statistics
    model.eval()
    meta = {"label_names": ["a", "b", "c"], "features": "egemaps", "mean": np.arange(3.0), "std": np.ones(3)}
    save_checkpoint(tmp_path, model, meta)
    doc = json.loads((tmp_path / "model.json").read_text())
    assert doc["name"] == name and doc["versions"]["torch"] == torch.__version__ and "avemo" in doc["versions"]
    loaded, loaded_meta = load_checkpoint(tmp_path)
    assert not loaded.training and loaded.describe() == json.loads(json.dumps(model.describe()))
    assert loaded_meta["label_names"] == ["a", "b", "c"] and loaded_meta["mean"] == [0.0, 1.0, 2.0]
    np.testing.assert_array_equal(predict_proba(loaded, xs, aux), predict_proba(model, xs, aux))


def test_checkpoint_errors(tmp_path):
    model = small("cnn")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    good = save_checkpoint(tmp_path / "good", model, {"label_names": ["a", "b", "c"]})

    def broken(tag, edit):
        d = tmp_path / tag
        d.mkdir()
        for f in ("model.json", "model.safetensors"):
            (d / f).write_bytes((good / f).read_bytes())
        edit(d)
        return d

    cases = {
        "no_json": lambda d: (d / "model.json").unlink(),
        "no_weights": lambda d: (d / "model.safetensors").unlink(),
        "bad_json": lambda d: (d / "model.json").write_text("{not json"),
        "json_list": lambda d: (d / "model.json").write_text("[1, 2]"),
        "truncated": lambda d: (d / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes()[:100]),
        "wrong_shape": lambda d: (d / "model.json").write_text(
            json.dumps({**json.loads((good / "model.json").read_text()), "input_dim": DIM + 1})),
        "other_model": lambda d: (d / "model.json").write_text(
            json.dumps({**json.loads((good / "model.json").read_text()), "name": "gru", "config": {}})),
        "unknown_model": lambda d: (d / "model.json").write_text(
            json.dumps({**json.loads((good / "model.json").read_text()), "name": "nope"})),
    }
    for tag, edit in cases.items():
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(broken(tag, edit))
        assert "\n" not in str(info.value), tag
    with pytest.raises(ParameterError):
        save_checkpoint(tmp_path / "bad_meta", model, {"x": object()})
