"""Parameters packed into one contiguous tensor, for optimizers that then see one tensor, not many.

A PPO update on CartPole steps Adam and clips the gradient norm 20 times per 256 env steps on a
policy of 12 small tensors. ``torch.optim``'s per-step work grows with the number of tensors (its
step counters alone are one small CPU op per tensor), so at this scale the bookkeeping costs more
than the arithmetic. :class:`FlatParameters` moves the given parameters into one tensor and leaves
each module parameter a *view* of its slice, and likewise for the gradients; the optimizer is then
built over :attr:`FlatParameters.flat`, one tensor. The modules, their ``state_dict`` and their
forward passes are unchanged; what the trick buys is measured in dev-notes/benchmarks-lab-notes.md
("flat_parameters") and its off switch is ``runtime.flat_parameters=false``.

Only public tensor APIs are used (``Tensor.data`` and ``Tensor.grad`` assignment). Two things could
undo the aliasing from outside, and :meth:`FlatParameters.prepare_grads` repairs both before each
step: code that *replaces* a parameter's storage (``torch.nn.utils.vector_to_parameters``,
``load_state_dict(assign=True)``) — its values are copied back into the slice — and code that clears
or replaces a gradient (``optimizer.zero_grad()``) — the gradient view is put back.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class FlatParameters:
    """``params`` (distinct, trainable, same dtype and device) as views of one contiguous tensor."""

    def __init__(self, params: Iterable[nn.Parameter]):
        self.params = list(params)
        if not self.params:
            raise ValueError("FlatParameters needs at least one parameter")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("FlatParameters got the same parameter twice")
        first = self.params[0]
        if any(p.dtype != first.dtype or p.device != first.device or not p.requires_grad for p in self.params):
            raise ValueError("FlatParameters packs trainable parameters of one dtype and device")
        if any(not (p.is_contiguous() or p.is_contiguous(memory_format=torch.channels_last)) for p in self.params):
            raise ValueError("FlatParameters packs dense parameters (contiguous or channels-last)")
        self.slices: list[slice] = []
        offset = 0
        for p in self.params:
            self.slices.append(slice(offset, offset + p.numel()))
            offset += p.numel()
        self.flat = nn.Parameter(first.new_empty(offset))
        self.flat.grad = torch.zeros_like(self.flat)
        self.data_views = self.views(self.flat.data)
        self.grad_views = self.views(self.flat.grad)
        with torch.no_grad():
            for view, p in zip(self.data_views, self.params):
                view.copy_(p.detach())
        self._pointers = [view.data_ptr() for view in self.data_views]
        for p, data, grad in zip(self.params, self.data_views, self.grad_views):
            p.data = data
            p.grad = grad

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """Each parameter's slice of ``flat`` with the parameter's own strides (channels-last conv
        weights stay channels-last)."""
        return [flat[where].view(p.shape) if p.is_contiguous() else flat[where].as_strided(p.shape, p.stride())
                for where, p in zip(self.slices, self.params)]

    def prepare_grads(self) -> None:
        """Zero the gradient for the next backward pass (which accumulates into the views), first
        repairing any parameter or gradient that was replaced since the last step."""
        flat_grad = self.flat.grad
        if flat_grad is None or flat_grad.data_ptr() != self.grad_views[0].data_ptr():  # cleared or replaced
            self.flat.grad = flat_grad = torch.zeros_like(self.flat)
            self.grad_views = self.views(flat_grad)
        flat_grad.zero_()
        for p, data, grad, pointer in zip(self.params, self.data_views, self.grad_views, self._pointers):
            if p.data_ptr() != pointer:  # storage replaced: take its values, then alias again
                with torch.no_grad():
                    data.copy_(p.detach())
                p.data = data
            if p.grad is not grad:
                p.grad = grad
