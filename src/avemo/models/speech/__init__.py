"""Speech encoders over frame features (``input_kind="frames"``) and an MLP over vectors (``"vector"``).

Importing this package registers: ``bilstm``, ``gru``, ``cnn``, ``cnn_lstm``, ``transformer``,
``attention_head`` and ``mlp``.
"""
from avemo.models.speech.attention_head import AttentionHeadConfig, AttentionHeadModel
from avemo.models.speech.cnn import CNNConfig, CNNModel
from avemo.models.speech.cnn_lstm import CNNLSTMConfig, CNNLSTMModel
from avemo.models.speech.lstm import BiLSTMConfig, BiLSTMModel
from avemo.models.speech.gru import GRUConfig, GRUModel
from avemo.models.speech.mlp import MLPConfig, MLPModel
from avemo.models.speech.transformer import TransformerConfig, TransformerModel

__all__ = ["AttentionHeadConfig", "AttentionHeadModel", "BiLSTMConfig", "BiLSTMModel", "CNNConfig", "CNNLSTMConfig",
           "CNNLSTMModel", "CNNModel", "GRUConfig", "GRUModel", "MLPConfig", "MLPModel", "TransformerConfig",
           "TransformerModel"]
