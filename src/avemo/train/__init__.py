"""Training: batching with masks, the trainer (early stopping on validation UA, resume) and checkpoints."""
from avemo.train.batching import Batch, collate
from avemo.train.checkpoint import load_checkpoint, save_checkpoint
from avemo.train.predict import predict_proba
from avemo.train.trainer import TrainConfig, Trainer, TrainHistory, fit, seed_everything

__all__ = ["Batch", "TrainConfig", "TrainHistory", "Trainer", "collate", "fit", "load_checkpoint", "predict_proba",
           "save_checkpoint", "seed_everything"]
