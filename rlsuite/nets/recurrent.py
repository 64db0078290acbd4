"""Recurrent cores with explicit state, shared by RL² (a GRU reading observation, previous action,
reward and done) and, later, the NAS controller (an LSTM emitting layer choices).

``step`` advances one time step for a batch (acting); ``forward`` runs whole sequences from a given
state (training, with the same weights, so a recomputed sequence reproduces what acting saw).
``reset`` zeroes the state of chosen batch rows (new trials / new episodes, as the agent decides).
"""

from __future__ import annotations

import torch
from torch import nn

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RecurrentCore(nn.Module):
    def __init__(self, in_dim: int, hidden: int, kind: str = "gru"):
        super().__init__()
        if kind not in ("gru", "lstm"):
            raise ValueError(f"unknown recurrent core '{kind}'; accepted: gru, lstm")
        self.kind, self.hidden = kind, int(hidden)
        self.rnn: nn.GRU | nn.LSTM = (nn.GRU if kind == "gru" else nn.LSTM)(int(in_dim), self.hidden)

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        zeros = torch.zeros(1, batch, self.hidden, device=device)
        return zeros if self.kind == "gru" else (zeros, zeros.clone())

    @staticmethod
    def reset(state: State, rows: torch.Tensor) -> State:
        """Zero the state where ``rows`` (bool, shape (batch,)) is true."""
        keep = (~rows).to(torch.float32).view(1, -1, 1)
        if isinstance(state, tuple):
            return state[0] * keep, state[1] * keep
        return state * keep

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """``x (batch, in_dim)`` → ``(features (batch, hidden), new state)``."""
        out, state = self.rnn(x.unsqueeze(0), state)
        return out[0], state

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """``x (time, batch, in_dim)`` → ``(features (time, batch, hidden), final state)``."""
        return self.rnn(x, state)
