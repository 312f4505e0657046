"""Audio-visual fusion models (registered as ``fusion_*``, ``input_kind = "multimodal"``) and late fusion.

Models take ``forward(inputs, present)`` with ``inputs = {"speech": (B, Ds), "face": (B, Df)}`` clip-level
vectors and ``present = {modality: BoolTensor (B,)}``:

- ``fusion_concat``: feature-level (per-modality projection, learned "missing" embedding, concatenation);
- ``fusion_decision``: decision-level (per-modality classifiers, learned weighted mean of log-probabilities);
- ``fusion_attention``: per-example modality weights from a scoring network (``last_weights``);
- ``fusion_transformer``: cross-modal Transformer with a CLS token and a key padding mask.

:func:`weighted_late_fusion` fuses calibrated probabilities of separately trained models (weights chosen by
:func:`avemo.train.late_fusion.fit_late_fusion_weights`); :func:`modality_dropout` hides modalities at random
during training.
"""
from avemo.models.fusion.base import FusionConfig, FusionModel, masked_softmax, modality_dropout
from avemo.models.fusion.concat import ConcatFusion, ConcatFusionConfig
from avemo.models.fusion.decision import DecisionFusion, DecisionFusionConfig
from avemo.models.fusion.attention import AttentionFusion, AttentionFusionConfig
from avemo.models.fusion.transformer import TransformerFusion, TransformerFusionConfig
from avemo.models.fusion.late import weighted_late_fusion

__all__ = ["AttentionFusion", "AttentionFusionConfig", "ConcatFusion", "ConcatFusionConfig", "DecisionFusion",
           "DecisionFusionConfig", "FusionConfig", "FusionModel", "TransformerFusion", "TransformerFusionConfig",
           "masked_softmax", "modality_dropout", "weighted_late_fusion"]
