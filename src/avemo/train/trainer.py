"""Train an :class:`~avemo.models.registry.EmotionModel` on in-memory arrays, with early stopping on validation UA.

Examples are a list of numpy arrays: frame matrices ``(T, D)`` for ``input_kind="frames"`` models, vectors
``(D,)`` for ``"vector"`` models or images ``(C, H, W)`` (uint8, or float in [0, 1]) for ``"image"`` models,
with integer labels and, for models built with ``aux_dim``, one aux vector each.
Training is deterministic for a given seed; with ``checkpoint_dir`` it saves its state after every epoch and
resumes from the last completed epoch when run again (safetensors + JSON, never pickle).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import random
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score
from torch import nn

from avemo.errors import CheckpointError, ParameterError
from avemo.models.registry import EmotionModel
from avemo.train.augment import ImageAugment
from avemo.train.batching import Batch, collate
from avemo.train.losses import group_slices, grouped_soft_target_cross_entropy, soft_target_cross_entropy
from avemo.train.predict import check_examples, forward_batch, predict_logits
from avemo.train.metrics import unweighted_accuracy
from avemo.train.checkpoint import load_weights, read_json, read_tensors, save_tensors_atomic, to_jsonable, \
    write_json_atomic

log = logging.getLogger(__name__)

STATE_WEIGHTS = "train_state.safetensors"
STATE_JSON = "train_state.json"
SCHEDULERS = ("cosine", "plateau", "none")
PRECISIONS = ("fp32", "bf16")
SELECT_ON = ("ua", "accuracy")


@dataclasses.dataclass
class TrainConfig:
    """Training hyper-parameters.

    ``max_frames`` randomly crops longer sequences during training (evaluation always sees whole sequences);
    ``mixup`` is the Beta(alpha, alpha) parameter of mixup (0 = off); ``patience`` counts epochs without a better
    validation UA before stopping; ``class_weight_power`` softens class-balanced weights (1 = inverse class
    frequency, 0.5 = its square root); ``scheduler`` is ``"cosine"`` (per epoch, to 1% of ``lr``), ``"plateau"``
    (halve on a validation-loss plateau) or ``"none"``; ``precision`` ``"bf16"`` runs the training forward pass
    under CPU bfloat16 autocast with image batches in channels-last memory (1.8x faster for face-cnn
    on a CPU with AVX512-BF16; weights, optimizer and evaluation stay float32); on a CPU without native
    bfloat16 (:func:`native_bf16`), where it would be ~10x slower than float32, training warns and runs in float32.
    ``average_from`` (1-based epoch, 0 = off) keeps a running average of the weights from that epoch on
    (stochastic weight averaging, Izmailov et al. 2018, best with ``scheduler: none``); after the last epoch the
    average, with batch-norm statistics recomputed over augmented training batches, is scored on validation and
    kept when it beats the best single epoch (always kept without a validation set). ``select_on`` is the
    validation figure that picks the epoch (and the average): ``"ua"`` (unweighted accuracy, the speech
    corpora's headline figure) or ``"accuracy"`` (FER2013's). ``output_groups``: the widths of heads that sit
    side by side in the model's output, the first being the primary one (labels, class weights and validation are
    its own); empty = one head over all outputs. Grouped outputs train on target distributions only, one per
    group (:func:`~avemo.train.losses.grouped_soft_target_cross_entropy`). ``extra_head_class_weight_power``:
    ``None`` leaves the other heads' losses unweighted; a power in [0, 1] weights each other head's classes by
    the inverse frequency, to that power, of its training targets' most likely class.
    """

    epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 10
    seed: int = 0
    class_balanced: bool = True
    class_weight_power: float = 1.0
    label_smoothing: float = 0.0
    grad_clip: float | None = 5.0
    max_frames: int | None = None
    mixup: float = 0.0
    scheduler: str = "cosine"
    eval_batch_size: int = 64
    precision: str = "fp32"
    average_from: int = 0
    select_on: str = "ua"
    output_groups: tuple[int, ...] = ()
    extra_head_class_weight_power: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1 or self.patience < 1:
            problems.append("epochs, batch_size, eval_batch_size and patience must be >= 1")
        if not self.lr > 0 or self.weight_decay < 0:
            problems.append("lr must be > 0 and weight_decay >= 0")
        if not 0.0 <= self.class_weight_power <= 1.0:
            problems.append("class_weight_power must be in [0, 1]")
        if self.extra_head_class_weight_power is not None and not 0.0 <= self.extra_head_class_weight_power <= 1.0:
            problems.append("extra_head_class_weight_power must be in [0, 1] or None")
        if not 0.0 <= self.label_smoothing < 1.0:
            problems.append("label_smoothing must be in [0, 1)")
        if self.grad_clip is not None and not self.grad_clip > 0:
            problems.append("grad_clip must be > 0 or None")
        if self.max_frames is not None and self.max_frames < 1:
            problems.append("max_frames must be >= 1 or None")
        if self.mixup < 0:
            problems.append("mixup must be >= 0")
        if not 0 <= self.average_from <= self.epochs:
            problems.append("average_from must be in [0, epochs] (0 = no weight averaging)")
        if self.select_on not in SELECT_ON:
            problems.append(f"select_on must be one of {list(SELECT_ON)}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {list(PRECISIONS)}")
        self.output_groups = tuple(int(g) for g in self.output_groups)
        if any(g < 1 for g in self.output_groups):
            problems.append("output_groups must be positive head widths")
        if self.scheduler not in SCHEDULERS:
            problems.append(f"scheduler must be one of {list(SCHEDULERS)}")
        if problems:
            raise ParameterError(f"invalid TrainConfig: {'; '.join(problems)} (got {dataclasses.asdict(self)})")


@dataclasses.dataclass
class TrainHistory:
    """Per-epoch curves (1-based ``epoch``) and the outcome; ``val_*`` are NaN when no validation set was given."""

    epoch: list[int] = dataclasses.field(default_factory=list)
    train_loss: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    val_ua: list[float] = dataclasses.field(default_factory=list)
    val_wa: list[float] = dataclasses.field(default_factory=list)
    lr: list[float] = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    best_val_ua: float = float("nan")
    stopped_early: bool = False
    resumed_from: int = 0  # epochs restored from checkpoint_dir (0 = fresh start)
    precision: str = ""  # what the training forward passes ran in ("bf16" asked for falls back to "fp32")
    averaged_epochs: int = 0  # epochs in the weight average (TrainConfig.average_from)
    average_val_ua: float = float("nan")
    average_val_wa: float = float("nan")
    used_average: bool = False  # the returned weights are the average, not the best epoch's

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainHistory":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


Callback = Callable[[int, TrainHistory], Any]


def native_bf16() -> bool:
    """Whether this CPU runs bfloat16 convolutions and matrix products natively (oneDNN's check: AVX512 with
    BF16 support or AMX); without it bfloat16 autocast is emulated and far slower than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global generator and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: a loss's class weights: one tensor (the only or first head's), one per head, or none
LossWeights = torch.Tensor | tuple[torch.Tensor | None, ...] | None


def class_weights(labels: np.ndarray, num_classes: int, power: float = 1.0) -> torch.Tensor:
    """Inverse class frequency to the given ``power``, normalised so the average weight over training examples
    is 1 (with ``power=1``: ``n / (num_classes_present * count_c)``, scikit-learn's "balanced"); classes absent
    from ``labels`` get 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = (1.0 / counts[present]) ** power
    weights *= len(labels) / float((weights[labels]).sum())
    return torch.tensor(weights, dtype=torch.float32)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class Trainer:
    """Trains models with one :class:`TrainConfig`.

    ``checkpoint_dir``: save the training state there after every epoch and resume from it.
    ``callback(epoch, history)`` runs after each epoch (1-based, state already saved); returning True stops training.
    ``augment``: for image models, augments every training batch and gives validation its centre crop.
    """

    def __init__(self, config: TrainConfig | None = None, checkpoint_dir: str | Path | None = None,
                 callback: Callback | None = None, augment: ImageAugment | None = None) -> None:
        self.config = config if config is not None else TrainConfig()
        self.checkpoint_dir = checkpoint_dir
        self.callback = callback
        self.augment = augment

    def fit(self, model: EmotionModel, train_x: Sequence[np.ndarray], train_y: Sequence[int] | np.ndarray,
            val_x: Sequence[np.ndarray] | None = None, val_y: Sequence[int] | np.ndarray | None = None,
            train_aux: Sequence[np.ndarray] | np.ndarray | None = None,
            val_aux: Sequence[np.ndarray] | np.ndarray | None = None,
            train_targets: np.ndarray | None = None) -> TrainHistory:
        """Train ``model`` in place and leave it holding the weights of the best validation UA (the last epoch's
        without a validation set); returns the :class:`TrainHistory`.

        ``train_targets``: optional ``(n_train, num_classes)`` target distributions (FER+ vote fractions, a
        teacher's probabilities) to train on instead of the one-hot ``train_y``, with
        :func:`~avemo.train.losses.soft_target_cross_entropy` (class weights, label smoothing and mixup apply
        as to labels; a one-hot row gives the same loss as its label). ``train_y`` still sets the class weights,
        and validation is always scored on ``val_y``.

        Raises:
            ParameterError: for inconsistent data.
            CheckpointError: when ``checkpoint_dir`` holds an unreadable state or one of another run.
        """
        xs, ys, auxs = check_examples(model, train_x, train_y, train_aux, "training set")
        has_val = val_x is not None
        if has_val:
            if val_y is None:
                raise ParameterError("validation set: val_x given without val_y")
            vxs, vys, vauxs = check_examples(model, val_x, val_y, val_aux, "validation set")
        elif val_y is not None or val_aux is not None:
            raise ParameterError("validation set: val_y/val_aux given without val_x")
        assert ys is not None
        groups = self.config.output_groups or (model.num_classes,)
        if sum(groups) != model.num_classes:
            raise ParameterError(f"output_groups {list(groups)} must add up to the model's {model.num_classes} outputs")
        if len(groups) > 1 and train_targets is None:
            raise ParameterError(f"a model with several heads ({list(groups)}) trains on target distributions, one "
                                 "per head; pass train_targets")
        targets = None if train_targets is None else _check_targets(train_targets, len(xs), groups)
        prev_det, prev_warn = torch.are_deterministic_algorithms_enabled(), \
            torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            return self._fit(model, xs, ys, auxs, (vxs, vys, vauxs) if has_val else None, targets)
        finally:
            torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)

    # -- internals -------------------------------------------------------------------------------------------

    def _fit(self, model: EmotionModel, xs: list[np.ndarray], ys: np.ndarray, auxs: np.ndarray | None,
             val: tuple[list[np.ndarray], np.ndarray, np.ndarray | None] | None,
             targets: torch.Tensor | None = None) -> TrainHistory:
        cfg = self.config
        seed_everything(cfg.seed)
        weights = class_weights(ys, self._primary(model), cfg.class_weight_power) if cfg.class_balanced else None
        eval_criterion = nn.CrossEntropyLoss(weight=weights)
        loss_weights = self._head_weights(weights, targets)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler: Any = None
        if cfg.scheduler == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr * 0.01)
        elif cfg.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5,
                                                                   patience=max(1, cfg.patience // 3))
        history = TrainHistory()
        best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        average: dict[str, torch.Tensor] = {}
        status = {"best_val_loss": math.inf, "bad_epochs": 0, "stopped": False, "averaged": 0}
        identity = {"model": to_jsonable(model.describe()), "train_config": to_jsonable(dataclasses.asdict(cfg)),
                    "data": {"n_train": len(xs), "n_val": 0 if val is None else len(val[0])}}
        if self.augment is not None:
            identity["augment"] = to_jsonable(dataclasses.asdict(self.augment.config))
        if targets is not None:
            identity["targets"] = hashlib.sha1(targets.numpy().tobytes()).hexdigest()[:16]
        directory = Path(self.checkpoint_dir) if self.checkpoint_dir is not None else None
        if directory is not None and (directory / STATE_JSON).exists():
            best = self._restore(directory, model, optimizer, scheduler, history, status, identity, average)
        start = len(history.epoch)
        bf16 = cfg.precision == "bf16" and native_bf16()
        if cfg.precision == "bf16" and not bf16:
            log.warning("precision bf16: this CPU has no native bfloat16 support (emulated bfloat16 is ~10x slower); "
                        "training in float32 instead")
        history.precision = "bf16" if bf16 else "fp32"
        if bf16:
            model.to(memory_format=torch.channels_last)  # only 4-D (convolution) weights change layout

        for epoch in range(start, cfg.epochs):
            if status["stopped"]:
                break
            torch.manual_seed(_epoch_seed(cfg.seed, epoch))
            rng = np.random.default_rng([cfg.seed, epoch])
            lr = optimizer.param_groups[0]["lr"]
            train_loss = self._train_epoch(model, optimizer, xs, ys, auxs, loss_weights, rng, bf16, targets)
            if cfg.average_from and epoch + 1 >= cfg.average_from:
                self._add_to_average(model, average, status)
            val_loss, val_ua, val_wa = self._validate(model, val, eval_criterion)
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(val_loss if val is not None else train_loss)
            elif scheduler is not None:
                scheduler.step()
            history.epoch.append(epoch + 1)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
            history.val_ua.append(val_ua)
            history.val_wa.append(val_wa)
            history.lr.append(lr)
            score, best_score = self._score(val_ua, val_wa), self._best_score(history)
            improved = val is None or history.best_epoch == 0 or score > best_score + 1e-9 or \
                (abs(score - best_score) <= 1e-9 and val_loss < status["best_val_loss"])
            if improved:
                history.best_epoch, history.best_val_ua = epoch + 1, val_ua
                status["best_val_loss"], status["bad_epochs"] = val_loss, 0
                best = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                status["bad_epochs"] += 1
            if val is not None and status["bad_epochs"] >= cfg.patience:
                status["stopped"] = history.stopped_early = True
            log.info("epoch %d/%d  train loss %.4f  val loss %.4f  val UA %.4f  lr %.2e", epoch + 1, cfg.epochs,
                     train_loss, val_loss, val_ua, lr)
            if directory is not None:
                self._save(directory, model, optimizer, scheduler, best, history, status, identity, average)
            if self.callback is not None and self.callback(epoch + 1, history):
                break
        if status["averaged"]:
            best = self._score_average(model, average, status["averaged"], best, history, xs, auxs, val,
                                       eval_criterion)
        model.load_state_dict(best)
        model.to(memory_format=torch.contiguous_format)
        return history

    def _validate(self, model: EmotionModel, val: tuple[list[np.ndarray], np.ndarray, np.ndarray | None] | None,
                  criterion: nn.Module) -> tuple[float, float, float]:
        """Validation loss, UA and WA (NaN without a validation set)."""
        if val is None:
            return float("nan"), float("nan"), float("nan")
        logits = predict_logits(model, val[0], val[2], self.config.eval_batch_size, self.augment)
        logits = logits[:, :self._primary(model)]
        pred = logits.argmax(dim=-1).numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            val_ua = unweighted_accuracy(val[1], pred)
        return float(criterion(logits, torch.from_numpy(val[1]))), val_ua, float(accuracy_score(val[1], pred))

    def _primary(self, model: EmotionModel) -> int:
        """How many of the model's outputs are the primary head's (all of them without ``output_groups``)."""
        return self.config.output_groups[0] if self.config.output_groups else model.num_classes

    def _score(self, val_ua: float, val_wa: float) -> float:
        """The validation figure ``select_on`` names."""
        return val_wa if self.config.select_on == "accuracy" else val_ua

    def _best_score(self, history: TrainHistory) -> float:
        if history.best_epoch == 0:
            return float("nan")
        i = history.epoch.index(history.best_epoch)
        return self._score(history.val_ua[i], history.val_wa[i])

    @staticmethod
    def _add_to_average(model: EmotionModel, average: dict[str, torch.Tensor], status: dict[str, Any]) -> None:
        """Fold the current parameters into the running mean ``average`` (``status["averaged"]`` epochs so far)."""
        n = status["averaged"]
        for name, p in model.named_parameters():
            value = p.detach().float()
            average[name] = value.clone() if n == 0 else average[name] + (value - average[name]) / (n + 1)
        status["averaged"] = n + 1

    def _score_average(self, model: EmotionModel, average: dict[str, torch.Tensor], n: int,
                       best: dict[str, torch.Tensor], history: TrainHistory, xs: list[np.ndarray],
                       auxs: np.ndarray | None, val: tuple[list[np.ndarray], np.ndarray, np.ndarray | None] | None,
                       criterion: nn.Module) -> dict[str, torch.Tensor]:
        """Load the averaged weights, recompute batch-norm statistics, score them on validation; returns the
        weights to keep (the average when it beats ``best`` on the ``select_on`` figure, or without a validation
        set)."""
        model.load_state_dict({**model.state_dict(), **average})
        self._recompute_batch_norm(model, xs, auxs)
        _, val_ua, val_wa = self._validate(model, val, criterion)
        history.averaged_epochs, history.average_val_ua, history.average_val_wa = n, val_ua, val_wa
        score, best_score = self._score(val_ua, val_wa), self._best_score(history)
        history.used_average = val is None or score > best_score + 1e-9
        log.info("weight average of %d epochs: val %s %.4f (best single epoch %.4f)%s", n, self.config.select_on,
                 score, best_score, "; keeping the average" if history.used_average else "")
        return {k: v.detach().clone() for k, v in model.state_dict().items()} if history.used_average else best

    def _recompute_batch_norm(self, model: EmotionModel, xs: list[np.ndarray], auxs: np.ndarray | None) -> None:
        """Batch-norm running statistics of the current weights: a cumulative mean over one pass of augmented
        training batches in training mode (what torch.optim.swa_utils.update_bn does); no-op without batch norm."""
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        cfg = self.config
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        torch.manual_seed(_epoch_seed(cfg.seed, cfg.epochs))
        rng = np.random.default_rng([cfg.seed, cfg.epochs])
        model.train()
        try:
            with torch.no_grad():
                for start in range(0, len(xs), cfg.eval_batch_size):
                    idx = np.arange(start, min(start + cfg.eval_batch_size, len(xs)))
                    batch = collate([xs[i] for i in idx], None, None if auxs is None else auxs[idx],
                                    max_frames=cfg.max_frames, rng=rng)
                    if self.augment is not None:
                        batch = dataclasses.replace(batch, x=self.augment.train(batch.x))
                    forward_batch(model, batch)
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum

    def _train_epoch(self, model: EmotionModel, optimizer: torch.optim.Optimizer, xs: list[np.ndarray],
                     ys: np.ndarray, auxs: np.ndarray | None, weights: LossWeights,
                     rng: np.random.Generator, bf16: bool, targets: torch.Tensor | None = None) -> float:
        cfg = self.config
        model.train()
        order = rng.permutation(len(xs))
        total, count = 0.0, 0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            batch = collate([xs[i] for i in idx], ys[idx], None if auxs is None else auxs[idx],
                            max_frames=cfg.max_frames, rng=rng)
            assert batch.labels is not None
            if self.augment is not None:
                batch = dataclasses.replace(batch, x=self.augment.train(batch.x))
            if bf16 and batch.x.dim() == 4:
                batch = dataclasses.replace(batch, x=batch.x.contiguous(memory_format=torch.channels_last))
            soft = None if targets is None else targets[torch.from_numpy(idx)]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if cfg.mixup > 0 and len(idx) > 1:
                    lam = float(rng.beta(cfg.mixup, cfg.mixup))
                    perm = torch.from_numpy(rng.permutation(len(idx)))
                    batch = Batch(lam * batch.x + (1 - lam) * batch.x[perm],
                                  None if batch.mask is None else batch.mask | batch.mask[perm],
                                  None if batch.aux is None else lam * batch.aux + (1 - lam) * batch.aux[perm],
                                  batch.labels)
                    logits = forward_batch(model, batch).float()
                    soft_perm = None if soft is None else soft[perm]
                    loss = lam * self._loss(logits, batch.labels, weights, soft) + \
                        (1 - lam) * self._loss(logits, batch.labels[perm], weights, soft_perm)
                else:
                    logits = forward_batch(model, batch).float()
                    loss = self._loss(logits, batch.labels, weights, soft)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        return total / max(count, 1)

    def _head_weights(self, weights: torch.Tensor | None, targets: torch.Tensor | None) -> LossWeights:
        """The loss's class weights: ``weights`` (the first head's), and with ``extra_head_class_weight_power``
        each other head's from its training targets' most likely class, one per head."""
        power, groups = self.config.extra_head_class_weight_power, self.config.output_groups
        if power is None or len(groups) < 2 or targets is None:
            return weights
        extra = [class_weights(targets[:, part].argmax(1).numpy(), part.stop - part.start, power)
                 for part in group_slices(groups)[1:]]
        return (weights, *extra)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor, weights: LossWeights,
              targets: torch.Tensor | None = None) -> torch.Tensor:
        if len(self.config.output_groups) > 1:
            return grouped_soft_target_cross_entropy(logits, targets, self.config.output_groups, weight=weights,
                                                     label_smoothing=self.config.label_smoothing)
        if targets is not None:
            return soft_target_cross_entropy(logits, targets, weight=weights,
                                             label_smoothing=self.config.label_smoothing)
        return F.cross_entropy(logits, labels, weight=weights, label_smoothing=self.config.label_smoothing)

    # -- training state (safetensors + JSON, no pickle) -------------------------------------------------------

    @staticmethod
    def _save(directory: Path, model: EmotionModel, optimizer: torch.optim.Optimizer, scheduler: Any,
              best: dict[str, torch.Tensor], history: TrainHistory, status: dict[str, Any],
              identity: dict[str, Any], average: dict[str, torch.Tensor]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        tensors.update({f"best.{k}": v for k, v in best.items()})
        tensors.update({f"average.{k}": v for k, v in average.items()})
        opt = optimizer.state_dict()
        opt_plain: dict[str, dict[str, Any]] = {}
        for pid, entry in opt["state"].items():
            for key, value in entry.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer.{pid}.{key}"] = value
                else:
                    opt_plain.setdefault(str(pid), {})[key] = value
        epoch = len(history.epoch)
        save_tensors_atomic(directory / STATE_WEIGHTS, tensors, {"epoch": str(epoch)})
        write_json_atomic(directory / STATE_JSON, to_jsonable({
            "format_version": 1, "epoch": epoch, **identity, **status, "history": history.to_dict(),
            "optimizer": {"param_groups": opt["param_groups"], "state": opt_plain},
            "scheduler": None if scheduler is None else scheduler.state_dict()}))

    @staticmethod
    def _restore(directory: Path, model: EmotionModel, optimizer: torch.optim.Optimizer, scheduler: Any,
                 history: TrainHistory, status: dict[str, Any], identity: dict[str, Any],
                 average: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        doc = read_json(directory / STATE_JSON)
        for key, value in identity.items():
            if doc.get(key) != value:
                raise CheckpointError(f"{directory} holds the training state of a different run ({key} differs: "
                                      f"{doc.get(key)} vs {value}); use another checkpoint_dir or delete it")
        tensors = read_tensors(directory / STATE_WEIGHTS)
        try:
            epoch = int(doc["epoch"])
            saved = TrainHistory.from_dict(doc["history"])
            if len(saved.epoch) != epoch:
                raise CheckpointError(f"{directory / STATE_JSON} is inconsistent: epoch {epoch} but "
                                      f"{len(saved.epoch)} history entries; delete the folder to start over")
            groups = doc["optimizer"]["param_groups"]
            opt_state: dict[int, dict[str, Any]] = {}
            for name, value in tensors.items():
                if name.startswith("optimizer."):
                    _, pid, key = name.split(".", 2)
                    opt_state.setdefault(int(pid), {})[key] = value
            for pid, entry in doc["optimizer"]["state"].items():
                opt_state.setdefault(int(pid), {}).update(entry)
            model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
            best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
            load_weights(model, model_sd, directory / STATE_WEIGHTS)
            probe = {k: v.detach().clone() for k, v in model.state_dict().items()}
            load_weights(model, best, directory / STATE_WEIGHTS)  # validates the best weights too
            model.load_state_dict(probe)
            optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
            if scheduler is not None:
                scheduler.load_state_dict(doc["scheduler"])
            for key in ("best_val_loss", "bad_epochs", "stopped", "averaged"):
                status[key] = doc[key]
            average.update({k[len("average."):]: v for k, v in tensors.items() if k.startswith("average.")})
            if sorted(average) != (sorted(n for n, _ in model.named_parameters()) if status["averaged"] else []):
                raise CheckpointError(f"{directory / STATE_WEIGHTS} holds an incomplete weight average; delete "
                                      "the folder to start over")
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise CheckpointError(f"cannot resume from {directory}: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}; delete the folder to start over") \
                from None
        for f in dataclasses.fields(TrainHistory):
            setattr(history, f.name, getattr(saved, f.name))
        history.resumed_from = epoch
        log.info("resumed from %s after epoch %d", directory, epoch)
        return best


def _check_targets(targets: np.ndarray, n: int, groups: Sequence[int]) -> torch.Tensor:
    """``targets`` as a float32 tensor, checked to be ``(n, sum(groups))``, each group's slice of a row a
    distribution.

    Raises:
        ParameterError: for another shape, a negative or non-finite value, or a row not summing to 1 in a group.
    """
    t = np.asarray(targets, dtype=np.float32)
    width = int(sum(groups))
    if t.shape != (n, width):
        raise ParameterError(f"training targets must be ({n}, {width}) distributions, got shape {t.shape}")
    sums = np.stack([part.sum(1) for part in np.split(t, np.cumsum(groups)[:-1], axis=1)], axis=1)
    bad = np.flatnonzero(~np.isfinite(t).all(1) | (t < 0).any(1) | (np.abs(sums - 1.0) > 1e-4).any(1))
    if len(bad):
        raise ParameterError(f"training target row {int(bad[0])} is not a distribution (non-negative, summing to 1): "
                             f"{t[bad[0]].tolist()}")
    return torch.from_numpy(t)


def fit(model: EmotionModel, train_x: Sequence[np.ndarray], train_y: Sequence[int] | np.ndarray,
        val_x: Sequence[np.ndarray] | None = None, val_y: Sequence[int] | np.ndarray | None = None, *,
        train_aux: Sequence[np.ndarray] | np.ndarray | None = None,
        val_aux: Sequence[np.ndarray] | np.ndarray | None = None, config: TrainConfig | None = None,
        checkpoint_dir: str | Path | None = None, callback: Callback | None = None,
        augment: ImageAugment | None = None, train_targets: np.ndarray | None = None) -> TrainHistory:
    """Shortcut for ``Trainer(config, checkpoint_dir, callback, augment).fit(...)``; see :class:`Trainer`."""
    trainer = Trainer(config, checkpoint_dir, callback, augment)
    return trainer.fit(model, train_x, train_y, val_x, val_y, train_aux, val_aux, train_targets)
