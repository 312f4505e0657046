"""The classifier head every model ends with: joins the optional ``aux`` vector, then a small MLP."""

from __future__ import annotations

import torch
from torch import nn

from avemo.errors import ParameterError


class ClassifierHead(nn.Module):
    """``[embedding ; aux] -> dropout -> Linear(hidden) -> GELU -> dropout -> Linear(num_classes)``.

    With ``hidden=0`` the head is ``dropout -> Linear(num_classes)``.
    """

    def __init__(self, embed_dim: int, num_classes: int, aux_dim: int = 0, hidden: int = 128,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.embed_dim, self.aux_dim = embed_dim, aux_dim
        in_dim = embed_dim + aux_dim
        if hidden > 0:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, num_classes))
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, num_classes))

    def forward(self, embedding: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, num_classes)``.

        Raises:
            ParameterError: when ``aux`` is missing, unexpected or of the wrong shape.
        """
        if embedding.dim() != 2 or embedding.shape[1] != self.embed_dim:
            raise ParameterError(f"head expects an embedding of shape (batch, {self.embed_dim}), "
                                 f"got {tuple(embedding.shape)}")
        if self.aux_dim > 0:
            if aux is None:
                raise ParameterError(f"this model was built with aux_dim={self.aux_dim}; pass aux of shape "
                                     f"(batch, {self.aux_dim})")
            if aux.shape != (embedding.shape[0], self.aux_dim):
                raise ParameterError(f"aux must have shape ({embedding.shape[0]}, {self.aux_dim}), "
                                     f"got {tuple(aux.shape)}")
            embedding = torch.cat([embedding, aux.to(embedding.dtype)], dim=-1)
        elif aux is not None:
            raise ParameterError("this model was built with aux_dim=0 and takes no aux vector; "
                                 "rebuild it with aux_dim set to use one")
        return self.net(embedding)
