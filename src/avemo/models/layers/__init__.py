"""Building blocks shared by the models: mask helpers, pooling, recurrent and convolutional blocks, the head."""
from avemo.models.layers.conv import MaskedBatchNorm1d, MaskedConvBlock
from avemo.models.layers.head import ClassifierHead
from avemo.models.layers.masking import check_frames, check_vectors, lengths_from_mask, reverse_padded
from avemo.models.layers.pooling import AttentionPooling, masked_mean, masked_mean_std
from avemo.models.layers.recurrent import MaskedRNN

__all__ = ["AttentionPooling", "ClassifierHead", "MaskedBatchNorm1d", "MaskedConvBlock", "MaskedRNN", "check_frames",
           "check_vectors", "lengths_from_mask", "masked_mean", "masked_mean_std", "reverse_padded"]
