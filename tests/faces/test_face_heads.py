"""A face network with two heads side by side (FER+'s votes and FER2013's original labels): the grouped loss, the
trainer's output groups, each head's own softmax, and the face system's extra heads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avemo.errors import ParameterError
from avemo.labels import label_set
from avemo.systems.face import FaceSystem, FaceSystemSpec, init_from_state, load_face_spec, output_classes
from avemo.train.losses import grouped_soft_target_cross_entropy, soft_target_cross_entropy
from avemo.train.predict import grouped_softmax
from avemo.train.trainer import TrainConfig, _check_targets

TINY = dict(model_config={"channels": [8, 16], "convs_per_block": 1, "dropout": 0.0, "block_dropout": 0.0},
            label_set="ferplus8", targets="votes", extra_heads={"fer2013": "fer7"},
            augment={"crop": None, "scale": 0, "rotation": 0, "shift": 0, "flip": False, "erase": 0, "brightness": 0,
                     "contrast": 0, "tta": "none"},
            train={"epochs": 40, "batch_size": 16, "lr": 0.01, "weight_decay": 0.0, "patience": 40,
                   "class_balanced": False, "select_on": "accuracy"})


def test_grouped_loss_is_the_sum_of_each_heads_own_softmax_loss():
    torch.manual_seed(0)
    logits = torch.randn(5, 15, requires_grad=True)
    target = torch.cat([torch.softmax(torch.randn(5, 8), 1), torch.eye(7)[torch.tensor([0, 3, 6, 2, 1])]], 1)
    weight = torch.rand(8) + 0.5
    loss = grouped_soft_target_cross_entropy(logits, target, (8, 7), weight=weight, label_smoothing=0.1)
    expected = soft_target_cross_entropy(logits[:, :8], target[:, :8], weight=weight, label_smoothing=0.1) + \
        soft_target_cross_entropy(logits[:, 8:], target[:, 8:], label_smoothing=0.1)
    assert torch.isclose(loss, expected)
    # one softmax over all 15 outputs would be another loss: the heads do not compete for probability mass
    assert not torch.isclose(loss, soft_target_cross_entropy(logits, target / 2))
    loss.backward()
    assert (logits.grad[:, :8].abs().sum() > 0) and (logits.grad[:, 8:].abs().sum() > 0)
    with pytest.raises(ParameterError, match="adding up to the 15 outputs"):
        grouped_soft_target_cross_entropy(logits, target, (8, 8))


def test_each_head_can_have_its_own_class_weights():
    from avemo.train.trainer import Trainer

    torch.manual_seed(0)
    logits = torch.randn(6, 15)
    fer = torch.tensor([0, 0, 0, 0, 3, 6])
    target = torch.cat([torch.softmax(torch.randn(6, 8), 1), torch.eye(7)[fer]], 1)
    first, second = torch.rand(8) + 0.5, torch.rand(7) + 0.5
    loss = grouped_soft_target_cross_entropy(logits, target, (8, 7), weight=(first, second))
    expected = soft_target_cross_entropy(logits[:, :8], target[:, :8], weight=first) + \
        soft_target_cross_entropy(logits[:, 8:], target[:, 8:], weight=second)
    assert torch.isclose(loss, expected)
    assert torch.isclose(grouped_soft_target_cross_entropy(logits, target, (8, 7), weight=(first, None)),
                         grouped_soft_target_cross_entropy(logits, target, (8, 7), weight=first))
    with pytest.raises(ParameterError, match="3 class weights for 2 groups"):
        grouped_soft_target_cross_entropy(logits, target, (8, 7), weight=(first, second, None))
    trainer = Trainer(TrainConfig(output_groups=(8, 7), extra_head_class_weight_power=1.0))
    weights = trainer._head_weights(first, target)
    assert weights[0] is first and weights[1][0] < weights[1][3] == weights[1][6], "the rare classes weigh more"
    assert weights[1][1] == 0, "a class the head never sees gets no weight"
    assert Trainer(TrainConfig(output_groups=(8, 7)))._head_weights(first, target) is first
    with pytest.raises(ParameterError, match="extra_head_class_weight_power must be in"):
        TrainConfig(extra_head_class_weight_power=2.0)


def test_targets_and_softmax_are_checked_and_taken_per_group():
    good = np.concatenate([np.full((2, 8), 1 / 8), np.eye(7)[[1, 2]]], 1)
    assert _check_targets(good, 2, (8, 7)).shape == (2, 15)
    with pytest.raises(ParameterError, match="row 1 is not a distribution"):
        _check_targets(np.concatenate([good[:, :8], np.array([[1] + [0] * 6, [0] * 7])], 1), 2, (8, 7))
    with pytest.raises(ParameterError, match="output_groups must be positive"):
        TrainConfig(output_groups=(8, 0))
    probs = grouped_softmax(torch.randn(3, 15), (8, 7))
    assert torch.allclose(probs[:, :8].sum(1), torch.ones(3)) and torch.allclose(probs[:, 8:].sum(1), torch.ones(3))


def bars(row: int, column: int) -> np.ndarray:
    """A 24x24 gray image whose brightness says ``row`` (0-7) and whose bright column stripe says ``column``
    (0-6): the two heads' labels are unrelated functions of the image."""
    img = np.full((24, 24), 20 + 25 * row, np.uint8)
    img[:, 3 * column:3 * column + 3] = 255
    return img


def tiny_data(n: int = 112, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, columns = np.arange(n) % 8, rng.permutation(np.arange(n) % 7)
    images = np.stack([bars(r, c) for r, c in zip(rows, columns)])
    return images, rows, columns


def test_each_head_learns_its_own_labels_and_survives_save_and_load(tmp_path):
    torch.manual_seed(0)  # the network's initial weights (drawn before the trainer seeds itself)
    spec = FaceSystemSpec(name="tiny-joint", side=24, **TINY)
    images, rows, columns = tiny_data()
    votes = np.eye(8, dtype=np.float32)[rows]
    system = FaceSystem(spec, engine="torch")
    with pytest.raises(ParameterError, match=r"extra head\(s\) \['fer2013'\] but got no labels"):
        system.fit(images, rows, targets=votes)
    with pytest.raises(ParameterError, match=r"head 'fer2013' needs one label in \[0, 7\)"):
        system.fit(images, rows, targets=votes, head_labels={"fer2013": columns + 1})
    system.fit(images, rows, (range(96), range(96, 112)), targets=votes, head_labels={"fer2013": columns})
    assert system.model_.num_classes == 15 and system.n_outputs == 15
    main, fer = system.predict_proba(images), system.predict_proba(images, head="fer2013")
    assert main.shape == (112, 8) and fer.shape == (112, 7)
    assert np.allclose(main.sum(1), 1, atol=1e-5) and np.allclose(fer.sum(1), 1, atol=1e-5)
    assert (main.argmax(1) == rows).mean() > 0.8, "the main head learnt the brightness"
    assert (fer.argmax(1) == columns).mean() > 0.8, "the fer2013 head learnt the stripe"
    with pytest.raises(ParameterError, match="has no head 'other'"):
        system.predict_proba(images, head="other")
    loaded = FaceSystem.load(system.save(tmp_path / "joint"))
    assert loaded.spec.extra_heads == {"fer2013": "fer7"}
    assert np.allclose(loaded.predict_proba(images[:4], head="fer2013"), fer[:4], atol=1e-4)  # onnx vs torch
    doc = json.loads(loaded.export_onnx(tmp_path / "joint.onnx").with_suffix(".json").read_text())
    assert doc["output"]["shape"] == ["batch", 15]
    assert [h["name"] for h in doc["heads"]] == ["main", "fer2013"] and doc["heads"][1]["classes"] == \
        list(label_set("fer7"))


def test_extra_heads_are_checked():
    with pytest.raises(ParameterError, match="extra head 'fer2013'"):
        FaceSystemSpec(name="x", extra_heads={"fer2013": "nope"})
    with pytest.raises(ParameterError, match="extra_heads must map head names"):
        FaceSystemSpec(name="x", extra_heads=["fer7"])


def test_the_joint_network_starts_both_heads_from_the_fer2013_network():
    from avemo.systems.base import PRETRAINED_DIR

    spec = load_face_spec("ferplus-cnn-joint")
    assert spec.extra_heads == {"fer2013": "fer7"} and spec.init_from == "pretrained:face-cnn-long"
    state = init_from_state(spec, "unused", lambda *_: None)
    shipped = FaceSystem.load(PRETRAINED_DIR / "face-cnn-long", engine="torch")
    old = shipped.model_.state_dict()["head.linear.weight"]
    new = state["head.linear.weight"]
    assert new.shape[0] == 15 and output_classes(spec)[8:] == shipped.classes
    assert torch.equal(new[8:], old), "the fer2013 head is face-cnn-long's head"
    plus8 = label_set("ferplus8")
    for i, name in enumerate(plus8):
        assert torch.equal(new[i], old[shipped.classes.index("disgust" if name == "contempt" else name)])


def test_front_ends_get_fer2013s_seven_classes_from_a_ferplus_network():
    from avemo.inference.face import FaceClassifier
    from avemo.models.registry import create_model

    spec = FaceSystemSpec(name="tiny-plus", side=24, **TINY)
    system = FaceSystem(spec, engine="torch")
    torch.manual_seed(0)
    system.model_ = create_model("face_cnn", 1, system.n_outputs, config=spec.model_config).eval()
    classifier = FaceClassifier(system)
    assert classifier.classes == label_set("fer7")
    crop = bars(3, 2)
    result = classifier.classify_crop(np.repeat(crop[:, :, None], 3, axis=2))
    plus = dict(zip(label_set("ferplus8"), system.predict_proba(crop[None])[0]))
    assert list(result.probabilities) == list(label_set("fer7"))
    assert np.isclose(sum(result.probabilities.values()), 1.0, atol=1e-5)
    assert np.isclose(result.probabilities["disgust"], plus["disgust"] + plus["contempt"], atol=1e-5)
    assert np.isclose(result.probabilities["happy"], plus["happy"], atol=1e-5)


def test_the_card_of_a_two_headed_network_gives_both_label_sets(tmp_path):
    from avemo.models.registry import create_model
    from avemo.shipping.face_train import ship_face_system

    spec = FaceSystemSpec(name="tiny-plus", side=24, **TINY)
    system = FaceSystem(spec, engine="torch")
    system.model_ = create_model("face_cnn", 1, system.n_outputs, config=spec.model_config).eval()
    system.info = {"corpus": "ferplus", "n_train": 10, "n_val": 4, "command": "avemo benchmark ferplus --data DIR"}
    system.save(tmp_path / "run")
    scores = {"accuracy": 0.8, "ua": 0.6, "macro_f1": 0.62, "n_test": 3490}
    report = tmp_path / "summary.json"
    report.write_text(json.dumps({"corpus": "ferplus", "systems": {"tiny-plus": {
        "test": scores, "validation": {"accuracy": 0.81}, "fer2013_head": "fer2013", "ms_per_image": 9.5,
        "fer2013_test": {**scores, "accuracy": 0.71, "n_test": 3589}, "fer2013_validation": {"accuracy": 0.69}}}}))
    card = (ship_face_system(tmp_path / "run", tmp_path / "shipped", report) / "MODEL_CARD.md").read_text()
    assert "FER+ Test (the 3490 FER2013 PrivateTest images" in card and "accuracy 80.0%" in card
    assert "FER2013 PrivateTest, original labels (3589 images) (its `fer2013` head): accuracy 71.0%" in card
    assert "PublicTest accuracy 69.0%" in card
    assert 'predict_proba(images, head="fer2013")' in card and "contempt folded into disgust" in card


def test_each_student_head_is_taught_by_the_teachers_with_a_head_of_its_classes():
    from types import SimpleNamespace

    from avemo.shipping.face_distill import teaching_probs

    fer7, ferplus8 = label_set("fer7"), label_set("ferplus8")
    joint = SimpleNamespace(heads={None: ferplus8, "fer2013": fer7}, classes=ferplus8)
    seven = SimpleNamespace(heads={None: fer7}, classes=fer7)
    outputs = [{None: np.full((2, 8), 1 / 8, np.float32), "fer2013": np.eye(7, dtype=np.float32)[[0, 1]]},
               {None: np.eye(7, dtype=np.float32)[[2, 3]]}]
    eight = teaching_probs([joint, seven], outputs, ferplus8)
    assert len(eight) == 1 and np.allclose(eight[0], 1 / 8), "the seven-class network does not teach FER+'s head"
    sevens = teaching_probs([joint, seven], outputs, fer7)
    assert [p.argmax(1).tolist() for p in sevens] == [[0, 1], [2, 3]], "both teach the FER2013 head"
    only_seven = teaching_probs([seven], outputs[1:], ferplus8)  # no teacher has the head: re-expressed
    assert only_seven[0].shape == (2, 8) and np.allclose(only_seven[0][:, ferplus8.index("contempt")], 0)


def test_a_two_headed_student_learns_its_extra_head_from_the_teachers():
    from avemo.shipping.face_distill import TeacherEnsemble, distill_face_system
    from avemo.train.distill import DistillConfig

    torch.manual_seed(0)
    images, rows, columns = tiny_data()
    teacher = FaceSystem(FaceSystemSpec(name="tiny-teacher", side=24, **TINY), engine="torch")
    teacher.fit(images, rows, targets=np.eye(8, dtype=np.float32)[rows], head_labels={"fer2013": columns})
    assert (TeacherEnsemble([teacher], teacher.heads).predict_proba(images, "fer2013").argmax(1) == columns).mean() \
        > 0.8
    student = FaceSystemSpec(name="tiny-student", side=24, **TINY)
    wrong = np.random.default_rng(1).permutation(columns)  # the student's own FER2013 labels say nothing
    system = distill_face_system(student, [teacher], images, rows, (range(96), range(96, 112)),
                                 votes=np.eye(8, dtype=np.float32)[rows], config=DistillConfig(1.0, 1.0),
                                 head_labels={"fer2013": wrong})
    fer = system.predict_proba(images, head="fer2013")
    # taught by its own (shuffled) labels the head would be near chance (1/7) on the stripe
    assert (fer.argmax(1) == columns).mean() > 0.6, "the extra head learnt the teacher's stripe, not its labels"
    assert (system.predict_proba(images).argmax(1) == rows).mean() > 0.6
    with pytest.raises(ParameterError, match=r"extra head\(s\) \['fer2013'\] but got no labels"):
        distill_face_system(student, [teacher], images, rows, (range(96), range(96, 112)),
                            votes=np.eye(8, dtype=np.float32)[rows])
