"""A stacked (bi)directional LSTM/GRU that honours padding without packed sequences.

The forward direction is causal, so trailing padding cannot reach real frames; the backward direction runs on
each row reversed within its length (:func:`reverse_padded`). This keeps outputs independent of padding and
the graph free of ``PackedSequence`` (simpler to export).
"""

from __future__ import annotations

import torch
from torch import nn

from avemo.errors import ParameterError
from avemo.models.layers.masking import apply_mask, lengths_from_mask, reverse_padded


class MaskedRNN(nn.Module):
    """``(batch, frames, input_size) -> (batch, frames, hidden * directions)``, zero on padded frames."""

    def __init__(self, kind: str, input_size: int, hidden: int, num_layers: int = 1, bidirectional: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        cells = {"lstm": nn.LSTM, "gru": nn.GRU}
        if kind not in cells:
            raise ParameterError(f"rnn kind must be one of {sorted(cells)}, got {kind!r}")
        if num_layers < 1 or hidden < 1:
            raise ParameterError(f"rnn needs num_layers >= 1 and hidden >= 1, got {num_layers} and {hidden}")
        self.bidirectional = bidirectional
        self.directions = 2 if bidirectional else 1
        self.out_dim = hidden * self.directions
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for i in range(num_layers):
            size = input_size if i == 0 else self.out_dim
            self.forward_layers.append(cells[kind](size, hidden, batch_first=True))
            if bidirectional:
                self.backward_layers.append(cells[kind](size, hidden, batch_first=True))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = lengths_from_mask(mask)
        for i, fwd in enumerate(self.forward_layers):
            if i > 0:
                x = self.dropout(x)
            x = apply_mask(x, mask)
            out = fwd(x)[0]
            if self.bidirectional:
                back = self.backward_layers[i](reverse_padded(x, lengths))[0]
                out = torch.cat([out, reverse_padded(back, lengths)], dim=-1)
            x = out
        return apply_mask(x, mask)
