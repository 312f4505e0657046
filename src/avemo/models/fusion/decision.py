"""Decision-level fusion: one classifier per modality, fused by a learned weighted mean of log-probabilities."""

from __future__ import annotations

import dataclasses
from typing import Mapping

import torch
from torch import nn

from avemo.models.fusion.base import FusionConfig, FusionModel, modality_projection
from avemo.models.registry import register_model


@dataclasses.dataclass
class DecisionFusionConfig(FusionConfig):
    """Settings of ``fusion_decision``."""

    hidden_dim: int = 64  # hidden width of each modality's classifier
    dropout: float = 0.2


@register_model
class DecisionFusion(FusionModel):
    """Each modality has its own classifier head; the output is ``sum_m w_m log softmax(logits_m)`` with
    ``w = softmax(weight_logits)`` renormalised over each example's present modalities.

    The fused log-probability vector is what ``forward_features`` returns (``embed_dim == num_classes``) and
    ``forward_head`` is the identity: the weighted log-probabilities already serve as logits (their softmax
    is the normalised weighted geometric mean of the per-modality distributions).
    """

    name = "fusion_decision"
    config_class = DecisionFusionConfig

    def __init__(self, input_dim: Mapping[str, int], num_classes: int, config: DecisionFusionConfig,
                 aux_dim: int = 0) -> None:
        super().__init__(input_dim, num_classes, config, aux_dim)
        self.classifiers = nn.ModuleDict({
            m: nn.Sequential(modality_projection(self.input_dims[m], config.hidden_dim, config.dropout),
                             nn.Linear(config.hidden_dim, num_classes))
            for m in self.modalities})
        self.weight_logits = nn.Parameter(torch.zeros(len(self.modalities)))

    @property
    def embed_dim(self) -> int:
        return self.num_classes

    def modality_weights(self) -> dict[str, float]:
        """The learned modality weights (softmax over all modalities, before per-example renormalisation)."""
        w = torch.softmax(self.weight_logits.detach(), dim=0)
        return {m: float(w[i]) for i, m in enumerate(self.modalities)}

    def forward_modalities(self, inputs, present=None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Per-modality logits and the ``present (B, M)`` mask (e.g. for auxiliary per-modality losses)."""
        xs, mask = self.prepare_inputs(inputs, present)
        return {m: self.classifiers[m](xs[m]) for m in self.modalities}, mask

    def forward_features(self, inputs, present=None) -> torch.Tensor:
        logits, mask = self.forward_modalities(inputs, present)
        logp = torch.stack([torch.log_softmax(logits[m], dim=-1) for m in self.modalities], dim=1)  # (B, M, C)
        w = torch.softmax(self.weight_logits, dim=0).to(logp.dtype)[None, :] * mask.to(logp.dtype)
        w = w / w.sum(dim=1, keepdim=True)
        # zero absent modalities' log-probs explicitly so their values cannot leak (0 * finite = 0 anyway)
        logp = torch.where(mask[:, :, None], logp, torch.zeros((), dtype=logp.dtype, device=logp.device))
        return (w[:, :, None] * logp).sum(dim=1)

    def forward_head(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return embedding
