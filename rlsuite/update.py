"""What every agent's learning step shares: its typed result and the optimizer step behind one call.

:class:`UpdateStats` is what an agent's ``update`` returns: the named scalars it computed (losses,
gradient norms, diagnostics) in the order it computed them. The base class
(:meth:`rlsuite.agent.Agent.finish_update`) hands every tensor of it to the non-finite guard
(one host sync per update, the first bad value in update order is the one reported) and gives the
logger the mean of each metric every ``log_interval`` updates, so agents neither call the guard
nor the logger themselves.

:class:`Optimizers` builds an agent's optimizers and steps them
(:meth:`rlsuite.agent.Agent.step`): ``step(optimizer, loss, max_grad_norm)`` takes fresh
gradients of the optimizer's parameters only, clips their global norm and steps. How is a runtime
choice with an off switch each, never the agent's business:

* ``runtime.fused_optimizer``: torch.optim's fused Adam / multi-tensor (foreach) RMSprop, one kernel for
  all tensors instead of a Python loop over them (same per-element arithmetic);
* ``runtime.flat_parameters``: each optimizer holds one contiguous tensor packing its parameters, which
  stay views of it (:mod:`rlsuite.flat_params`); clipping then takes the norm of one tensor.

tests/test_speed_switches.py, tests/test_optim.py and tests/test_flat_params.py train with each
switch on and off and compare the weights; docs/results.md has what each buys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import torch
from torch import nn

from rlsuite.flat_params import FlatParameters

__all__ = ["Optimizers", "UpdateStats"]

Scalar = torch.Tensor | float


class UpdateStats:
    """Named scalars of one update, in the order they were computed; a name may repeat (one entry
    per minibatch). Tensors stay on the device until the base class checks or logs them.

    Names are metric names (``loss/<name>``, ``train/<name>``); values under a name without a
    ``/`` (``grad norm``) are checked by the non-finite guard but not logged."""

    def __init__(self, values: Mapping[str, Scalar | None] | None = None):
        self.entries: list[tuple[str, Scalar]] = []
        if values:
            self.add(values)

    def add(self, values: Mapping[str, Scalar | None]) -> UpdateStats:
        """Append ``values`` (a ``None``, e.g. no gradient norm where nothing is clipped, is skipped)."""
        for name, value in values.items():
            if value is not None:
                self.entries.append((name, value.detach() if isinstance(value, torch.Tensor) else float(value)))
        return self

    def __iter__(self) -> Iterator[tuple[str, Scalar]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def metrics(self) -> dict[str, Scalar]:
        """Per logged name (one with a ``/``), the mean of its entries (the value itself if one)."""
        grouped: dict[str, list[Scalar]] = {}
        for name, value in self.entries:
            if "/" in name:
                grouped.setdefault(name, []).append(value)
        return {name: _mean(values) for name, values in grouped.items()}

    def __getitem__(self, name: str) -> Scalar:
        """The mean of the entries under ``name``."""
        values = [value for key, value in self.entries if key == name]
        if not values:
            raise KeyError(name)
        return _mean(values)


def _mean(values: list[Scalar]) -> Scalar:
    if len(values) == 1:
        return values[0]
    if all(isinstance(v, torch.Tensor) for v in values):
        return torch.stack([torch.as_tensor(v).float() for v in values]).mean()
    return sum(float(v) for v in values) / len(values)


class Optimizers:
    """An agent's optimizer factory and its one optimizer step (see the module docstring)."""

    def __init__(self, fused: bool = True, flat_parameters: bool = False):
        self.fused = bool(fused)
        self.flat_parameters = bool(flat_parameters)
        self.packings: dict[int, FlatParameters] = {}  # id of a packed tensor -> its FlatParameters

    def held(self, params: Iterable[nn.Parameter], pack: bool = True) -> list[nn.Parameter]:
        """What an optimizer of ``params`` holds: one tensor packing the trainable ones when
        ``runtime.flat_parameters`` (and ``pack``), else the parameters themselves."""
        params = list(params)
        if not (self.flat_parameters and pack):
            return params
        packed = FlatParameters(p for p in params if p.requires_grad)
        self.packings[id(packed.flat)] = packed
        return [packed.flat]

    def packing_of(self, optimizer: torch.optim.Optimizer) -> FlatParameters | None:
        """The packing whose one tensor ``optimizer`` holds (None: it holds the parameters themselves)."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        return self.packings.get(id(params[0])) if len(params) == 1 else None

    def adam(self, params: Iterable[nn.Parameter], lr: float, eps: float = 1e-8, pack: bool = True
             ) -> torch.optim.Optimizer:
        """Adam (Kingma & Ba 2015) over ``params``."""
        return torch.optim.Adam(self.held(params, pack), lr=lr, eps=eps, fused=self.fused or None)

    def rmsprop(self, params: Iterable[nn.Parameter], lr: float, alpha: float, eps: float, pack: bool = True
                ) -> torch.optim.Optimizer:
        """PyTorch's RMSprop (ε outside the square root) over ``params``."""
        return torch.optim.RMSprop(self.held(params, pack), lr=lr, alpha=alpha, eps=eps,
                                   foreach=self.fused or None)

    def step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
             max_grad_norm: float | None = None) -> torch.Tensor | None:
        """Minimize ``loss`` by one step of ``optimizer``: fresh gradients of its parameters (and of
        no others), their global norm clipped to ``max_grad_norm`` (``None`` or ≤ 0: no clipping),
        then the update. Returns the gradient norm before clipping (``None`` without clipping)."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        packed = self.packing_of(optimizer)
        if packed is not None:
            packed.prepare_grads()  # backward accumulates into the packed gradient's views
            leaves = packed.params
        else:
            for p in params:  # optimizer.zero_grad(set_to_none=True) without its profiler scope
                p.grad = None
            leaves = params
        # only the optimizer's own parameters: e.g. an actor loss never computes the critic's weight gradients
        loss.backward(inputs=[p for p in leaves if p.requires_grad])
        grad_norm = None
        if max_grad_norm is not None and max_grad_norm > 0:
            if packed is not None:  # clip_grad_norm_'s formula on the one tensor, without its list handling
                grad = params[0].grad
                assert grad is not None
                grad_norm = torch.linalg.vector_norm(grad)
                grad.mul_((max_grad_norm / (grad_norm + 1e-6)).clamp_(max=1.0))
            else:
                grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        return grad_norm
