"""Optimizer steps, gradient clipping and zeroing without torch.optim's per-call Python overhead.

At the scale of classic-control nets (CartPole's 64-64 actor-critic: ten parameter tensors, ~9k
floats; DQN's 256-256 MLP: six tensors) ``optimizer.step()`` spends far more time in Python — hooks,
profiler scopes, ``_init_group``'s state lookups, grouping tensors by device and dtype — than in
arithmetic: ~100 µs per step of the CartPole actor-critic's Adam, about half of it outside the
kernels. PPO on CartPole takes 20 such steps per 256 env steps.

:func:`step` runs exactly the kernels ``optimizer.step()`` runs, in the same order and with the same
arguments, for the common cases — fused Adam/AdamW and RMSprop (plain, no momentum, not centered)
with every parameter on one device and dtype — so the results are bit-identical (tested against
``optimizer.step()``); anything else falls through to ``optimizer.step()``. The optimizer object
keeps owning its state, so ``state_dict``/``load_state_dict`` and checkpoints are unchanged.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import torch


def zero_grad(params: Sequence[torch.Tensor]) -> None:
    """``optimizer.zero_grad(set_to_none=True)`` for these parameters, without its profiler scope."""
    for p in params:
        p.grad = None


def clip_grad_norm(params: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)``: the same kernels in the
    same order (per-tensor norms, the norm of their stack, scale by ``min(max_norm / (norm + 1e-6),
    1)``), so the same bits, minus the per-call grouping by device and dtype that costs more than
    the arithmetic at MLP scale. Mixed devices/dtypes go to torch's function. Returns the total norm."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    first = grads[0]
    if any(g.device != first.device or g.dtype != first.dtype for g in grads):
        return torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    with torch.no_grad():
        total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
        torch._foreach_mul_(grads, torch.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0))
    return total_norm


# optimizer -> {group index: (optimizer.state object, params, state lists)} for groups whose every
# parameter had a gradient: the next step then only collects the gradients. Loading a state dict
# replaces ``optimizer.state``, which invalidates the entry.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _group_tensors(optimizer: torch.optim.Optimizer, index: int, group: dict, keys: tuple[str, ...]):
    """``(params, grads, *state[key] lists)`` of a group's parameters that have gradients, or None
    when the fast path does not apply (missing state — the first step initializes it — or mixed
    devices/dtypes/sparse gradients)."""
    all_grads = [p.grad for p in group["params"]]
    cached = _CACHE.get(optimizer, {}).get(index)
    if cached is not None and cached[0] is optimizer.state and len(all_grads) == len(cached[1]) \
            and not any(g is None for g in all_grads):  # (`None in list` would call Tensor.__eq__)
        return cached[1], all_grads, *cached[2]
    params, grads = [], []
    states: list[list[torch.Tensor]] = [[] for _ in keys]
    device = dtype = None
    for p, g in zip(group["params"], all_grads):
        if g is None:
            continue
        state = optimizer.state.get(p)
        if not state or g.is_sparse or p.is_complex():
            return None
        if device is None:
            device, dtype = p.device, p.dtype
        elif p.device != device or p.dtype != dtype:
            return None
        params.append(p)
        grads.append(g)
        for lst, key in zip(states, keys):
            lst.append(state[key])
    if len(params) == len(all_grads):
        _CACHE.setdefault(optimizer, {})[index] = (optimizer.state, params, states)
    return params, grads, *states


def _adam_step(optimizer: torch.optim.Adam) -> bool:
    for group in optimizer.param_groups:
        if not group.get("fused") or group["amsgrad"] or group.get("capturable") or group.get("differentiable") \
                or isinstance(group["lr"], torch.Tensor):
            return False
    work = []
    for index, group in enumerate(optimizer.param_groups):
        tensors = _group_tensors(optimizer, index, group, ("exp_avg", "exp_avg_sq", "step"))
        if tensors is None:
            return False
        work.append((group, tensors))
    with torch.no_grad():
        for group, (params, grads, exp_avgs, exp_avg_sqs, steps) in work:
            if not params:
                continue
            decoupled = group.get("decoupled_weight_decay", isinstance(optimizer, torch.optim.AdamW))
            kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            kernel(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"], beta1=beta1,
                   beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
                   grad_scale=None, found_inf=None)
    return True


def _rmsprop_step(optimizer: torch.optim.RMSprop) -> bool:
    for group in optimizer.param_groups:
        if group["momentum"] or group["centered"] or group["weight_decay"] or group.get("maximize") \
                or group.get("capturable") or group.get("differentiable") or isinstance(group["lr"], torch.Tensor):
            return False
    work = []
    for index, group in enumerate(optimizer.param_groups):
        tensors = _group_tensors(optimizer, index, group, ("square_avg", "step"))
        if tensors is None:
            return False
        work.append((group, tensors))
    with torch.no_grad():
        for group, (params, grads, square_avgs, steps) in work:
            if not params:
                continue
            alpha = group["alpha"]
            # torch's multi-tensor RMSprop, op for op (its single-tensor loop does the same per tensor)
            torch._foreach_add_(steps, 1)
            torch._foreach_mul_(square_avgs, alpha)
            torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - alpha)
            avg = torch._foreach_sqrt(square_avgs)
            torch._foreach_add_(avg, group["eps"])
            torch._foreach_addcdiv_(params, grads, avg, value=-group["lr"])
    return True


def step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``, bit for bit, without its Python overhead where the kernels can be called
    directly (see the module docstring)."""
    if type(optimizer) in (torch.optim.Adam, torch.optim.AdamW):
        if _adam_step(optimizer):  # type: ignore[arg-type]
            return
    elif type(optimizer) is torch.optim.RMSprop:
        if _rmsprop_step(optimizer):  # type: ignore[arg-type]
            return
    optimizer.step()


__all__ = ["clip_grad_norm", "step", "zero_grad"]
