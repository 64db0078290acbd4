"""One gradient step — loss, backward, gradient-norm clipping, Adam, Polyak target update — as one
compiled function (the ``runtime.compiled_update`` switch of DQN, DDPG/TD3 and PPO's minibatch step).

An eager update of a small network is mostly Python and dispatch: the module calls, autograd's
graph, ``clip_grad_norm_`` and the optimizer each launch a handful of tiny kernels. Here the agent's
loss stays a plain function of a batch that calls its ``nn.Module``\\s as usual; the step around it
is a pure function of the networks' tensors, written with public APIs only:

    grads, (loss, aux) = torch.func.grad_and_value(loss over functional_call(networks, θ))(θ)
    g ← g · min(1, c / (‖g‖ + 1e-6))                         (torch's clip_grad_norm_, c = max_grad_norm)
    m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)   (Adam)
    θ⁻ ← θ⁻ + τ(θ − θ⁻)                                       (the targets, when given)

and ``torch.compile`` turns it into one generated kernel program. The two bias corrections
``lr/(1 − β₁ᵗ)`` and ``√(1 − β₂ᵗ)`` are scalars, computed before the call in double precision as
``torch.optim.Adam`` computes them and handed in as tensors: inside the graph, inductor evaluated the
two powers once per vector of every parameter's loop, ~100 µs of a ~160 µs Adam step on DQN's
[256, 256] network (the lab notes' compiled-update row).

The tensors it updates in place are the modules' own parameters (or, for an optimizer that holds one
packed tensor of them, :mod:`rlsuite.flat_params`, that tensor: the loss then sees views of it in the
parameters' place) and the ``torch.optim.Adam``'s own state (``exp_avg``, ``exp_avg_sq``, ``step``),
fetched at every call: ``act()``, evaluation,
checkpoints and a resumed optimizer see exactly what the eager path would have left there, and the
two paths can be mixed.

:meth:`CompiledUpdate.steps` takes many steps in one call: the step above, traced once, is the body
of a ``torch.while_loop`` whose iteration k reads the k-th slice of the batches it is given and carries
the parameters, Adam's moments and the Polyak targets to the next (DQN's training round on uniform
replay: 128 steps per call in the zoo CartPole recipe), with inductor's wrapper generated in C++
(``cpp_wrapper``) so the loop's kernel calls skip Python. Dynamo's guards and the call's wrappers
(~150 µs a call on DQN's network) are paid once per call instead of once per step: ~0.78× the time
per DQN step of one call per step. Its cost is compilation: inductor does not cache graphs holding a
``while_loop`` ("Can't cache HigherOrderOperator"), so without more every new process would generate
the loop's code again (~6-10 s on one core for DQN's network). Given a ``cache_context`` (the caller's
description of everything its loss reads: DQN passes its whole config), the loop is compiled ahead of
its first call and kept on disk by :mod:`rlsuite.compile_cache`, and a later process with the same key
loads it in about a second (``runtime.compile_cache``).

Randomness the loss needs (noisy-net noise, TD3's target smoothing noise) is drawn by the caller
before the call, in eager torch from the same generator, so the compiled step consumes the same random
numbers as the eager one; ``tests/test_compiled_update.py`` checks that both end at the same weights.

Compilation takes seconds (counted in the wall time of the run that pays it); inductor's FX graph
cache (on by default, under ``torch._inductor``'s cache directory) makes later runs of the same
network shapes cheaper. Without a C++ compiler, with an optimizer other than plain Adam, or where the
caller names a reason, :func:`compiled_update` logs one line and returns ``None``: the agent then
runs its eager step.
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from rlsuite.compile_cache import DiskCompiled
from rlsuite.flat_params import FlatParameters

logger = logging.getLogger(__name__)

# the loss: a plain function of the call's arguments, returning (scalar loss, anything else to hand back)
LossFn = Callable[..., tuple[torch.Tensor, Any]]


class _Networks(nn.Module):
    """Every network the loss reads, under one root, so ``functional_call`` can substitute the
    step's tensors for theirs while the loss calls the modules themselves."""

    def __init__(self, loss: LossFn, networks: dict[str, nn.Module]):
        super().__init__()
        self.networks = nn.ModuleDict(networks)
        self.loss = loss

    def forward(self, *args: Any) -> tuple[torch.Tensor, Any]:
        return self.loss(*args)


def unsupported_optimizer(optimizer: torch.optim.Optimizer) -> str | None:
    """Why the written-out Adam would not reproduce ``optimizer`` (None: it does)."""
    if type(optimizer) is not torch.optim.Adam:
        return f"{type(optimizer).__name__} is not plain torch.optim.Adam"
    if len(optimizer.param_groups) != 1:
        return "several parameter groups"
    group = optimizer.param_groups[0]
    for key, plain in (("weight_decay", 0), ("amsgrad", False), ("maximize", False), ("decoupled_weight_decay", False)):
        if group.get(key, plain) != plain:
            return f"Adam with {key}={group[key]}"
    if isinstance(group["lr"], torch.Tensor) or any(isinstance(b, torch.Tensor) for b in group["betas"]):
        return "tensor-valued lr or betas"
    return None


def compiler_missing(device: torch.device) -> str | None:
    """torch.compile's CPU code generator needs a C++ compiler on the PATH."""
    if device.type == "cpu" and not any(shutil.which(c) for c in ("g++", "clang++", "c++")):
        return "no C++ compiler (g++/clang++) for torch.compile's CPU backend"
    return None


class CompiledUpdate:
    """``step(*args) -> (loss, aux, grad_norm)``: one Adam step of ``optimizer``'s parameters on
    ``loss(*args)``, with optional gradient-norm clipping and Polyak updates ``target ← lerp(target,
    online, tau)`` for each ``(online, target)`` pair, compiled once per instance.

    ``networks`` are every module the loss reads (parameters and buffers); the parameters that train
    are those of ``optimizer``, in its order, or the ones ``packing`` packs into the optimizer's one
    tensor. ``loss`` must return ``(scalar, aux)``; ``aux`` (tensors,
    e.g. PER priorities) comes back detached. ``grad_norm`` is the norm before clipping (None without
    clipping)."""

    def __init__(self, loss: LossFn, networks: dict[str, nn.Module], optimizer: torch.optim.Optimizer, *,
                 max_grad_norm: float = 0.0, targets: Sequence[tuple[nn.Module, nn.Module]] = (),
                 tau: float = 1.0, packing: FlatParameters | None = None, compile: bool = True,
                 name: str = "update", cache_context: str | None = None):
        reason = unsupported_optimizer(optimizer)
        if reason:
            raise ValueError(f"compiled update: {reason}")
        self.root = _Networks(loss, networks)
        self.optimizer = optimizer
        self.max_grad_norm, self.tau, self.name = float(max_grad_norm), float(tau), name
        group = optimizer.param_groups[0]
        self.beta1, self.beta2 = (float(b) for b in group["betas"])
        self.eps = float(group["eps"])
        self.params: list[nn.Parameter] = list(group["params"])
        # every distinct tensor the step reads or writes, each passed once (no aliased inputs)
        named: dict[str, torch.Tensor] = dict(self.root.named_parameters(remove_duplicate=True))
        named.update(self.root.named_buffers(remove_duplicate=True))
        # A packed optimizer (rlsuite.flat_params) holds one tensor whose slices the modules' parameters
        # view: the step takes that tensor and hands the loss views of it in their place.
        self.packing, self.packed_names = packing, []
        if packing is not None:
            if targets or [id(p) for p in self.params] != [id(packing.flat)]:
                raise ValueError("compiled update: a packing must be the optimizer's only tensor, without targets")
            name_of = {id(t): n for n, t in named.items()}
            if any(id(p) not in name_of for p in packing.params):
                raise ValueError("compiled update: the packing holds parameters of no network given")
            self.packed_names = [name_of[id(p)] for p in packing.params]
            named = {n: t for n, t in named.items() if n not in set(self.packed_names)}
        self.names = list(named)
        self.tensors: list[torch.Tensor] = list(named.values())
        if packing is not None:
            self.tensors.append(packing.flat)
        position = {id(t): i for i, t in enumerate(self.tensors)}
        for online, target in targets:
            for t in (*online.parameters(), *target.parameters()):
                if id(t) not in position:
                    position[id(t)] = len(self.tensors)
                    self.tensors.append(t)
        missing = [p for p in self.params if id(p) not in position]
        if missing:
            raise ValueError("compiled update: the optimizer holds parameters of no network given")
        self.trainable = [position[id(p)] for p in self.params]
        self.pairs = [(position[id(o)], position[id(t)])
                      for online, target in targets for o, t in zip(online.parameters(), target.parameters())]
        # buffers (e.g. noise samples) are copied outright, as rlsuite.targets.polyak_update does
        self.buffer_pairs = [(position[id(o)], position[id(t)]) for online, target in targets
                             for o, t in zip(online.buffers(), target.buffers())
                             if id(o) in position and id(t) in position]
        # lr / (1 − β₁ᵗ) and √(1 − β₂ᵗ) for the step a call takes (tensor inputs: no recompiles)
        self.step_size, self.bias_correction2_sqrt = torch.zeros(()), torch.ones(())
        self._step = torch.compile(self._functional_step) if compile else self._functional_step
        # the loop's generated wrapper in C++ (inductor's cpp_wrapper): its per-iteration kernel calls
        # then skip Python (~11 % of a DQN step; the lab notes' compiled-loop rows)
        self._loop: Callable[..., Any] = torch.compile(self._functional_loop, options={"cpp_wrapper": True}) \
            if compile else self._functional_loop
        if compile and cache_context is not None:  # kept on disk for later processes (rlsuite.compile_cache)
            self._loop = DiskCompiled(self._functional_loop, {"cpp_wrapper": True},
                                      f"{cache_context}\n{self._layout()}", self._source_files())
        self.loop_wrapper = "c++" if compile else None
        self.compiled = compile

    @property
    def loop_source(self) -> str | None:
        """Where the latest loop call's compiled code came from with the disk cache: "compiled",
        "loaded" or "memory" (rlsuite.compile_cache.DiskCompiled); None without the cache."""
        return self._loop.last_source if isinstance(self._loop, DiskCompiled) else None

    def _layout(self) -> str:
        """What the traced loop reads from this object besides its arguments, for the disk cache's key:
        the networks (their modules, as printed, and training modes), the loss's name, the tensors'
        roles and the step's constants."""
        modes = "".join("1" if m.training else "0" for m in self.root.modules())
        loss = getattr(self.root.loss, "__qualname__", repr(self.root.loss))
        return "\n".join([repr(self.root.networks), modes, loss, repr(self.names), repr(self.packed_names),
                          repr((self.trainable, self.pairs, self.buffer_pairs)),
                          repr((self.max_grad_norm, self.tau, self.beta1, self.beta2, self.eps))])

    def _source_files(self) -> list[str]:
        """The files outside torch whose code the trace runs: the loss's owner's classes and the
        networks' module classes (rlsuite's own are in every key)."""
        owner = getattr(self.root.loss, "__self__", None)
        classes = [*(type(owner).__mro__ if owner is not None else ()), *(type(m) for m in self.root.modules())]
        files = set()
        for cls in classes:
            module = sys.modules.get(cls.__module__)
            path = getattr(module, "__file__", None)
            if path and not cls.__module__.startswith(("torch", "builtins", "rlsuite.")):
                files.add(path)
        return sorted(files)

    def _loss_and_grads(self, tensors: list[torch.Tensor], args: tuple[Any, ...]
                        ) -> tuple[torch.Tensor, Any, list[torch.Tensor], torch.Tensor | None]:
        """The loss at ``tensors`` (the step's inputs, in ``self.tensors``' order), its ``aux``, the
        gradients of the trainable ones, clipped as ``clip_grad_norm_`` clips, and the norm before."""
        n_named = len(self.names)

        def loss_of(trainable: list[torch.Tensor]) -> tuple[torch.Tensor, Any]:
            current = list(tensors)
            for i, t in zip(self.trainable, trainable):
                current[i] = t
            named = dict(zip(self.names, current[:n_named]))
            if self.packing is not None:
                named.update(zip(self.packed_names, self.packing.views(current[n_named])))
            loss, aux = torch.func.functional_call(self.root, named, args)
            return loss, ({} if aux is None else {"aux": aux})  # grad_and_value's aux must hold only tensors

        grads, (loss, aux) = torch.func.grad_and_value(loss_of, has_aux=True)([tensors[i] for i in self.trainable])
        norm = None
        if self.max_grad_norm > 0:  # torch.nn.utils.clip_grad_norm_
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            coef = (self.max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
            grads = [g * coef for g in grads]
        return loss.detach(), aux.get("aux"), grads, norm

    def _adam(self, param: torch.Tensor, grad: torch.Tensor, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor,
              step_size: torch.Tensor, bias_correction2_sqrt: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """torch.optim.Adam's step of one tensor: the new parameter, first and second moments."""
        exp_avg = exp_avg.lerp(grad, 1 - self.beta1)
        exp_avg_sq = exp_avg_sq * self.beta2 + grad * grad * (1 - self.beta2)
        return param - exp_avg / (exp_avg_sq.sqrt() / bias_correction2_sqrt + self.eps) * step_size, exp_avg, exp_avg_sq

    def _functional_step(self, tensors: list[torch.Tensor], exp_avgs: list[torch.Tensor],
                         exp_avg_sqs: list[torch.Tensor], steps: list[torch.Tensor], step_size: torch.Tensor,
                         bias_correction2_sqrt: torch.Tensor, args: tuple[Any, ...]
                         ) -> tuple[torch.Tensor, Any, torch.Tensor | None]:
        loss, aux, grads, norm = self._loss_and_grads(tensors, args)
        with torch.no_grad():
            for i, g, m, v, step in zip(self.trainable, grads, exp_avgs, exp_avg_sqs, steps):
                new = self._adam(tensors[i], g, m, v, step_size, bias_correction2_sqrt)
                for old, value in zip((tensors[i], m, v), new):
                    old.copy_(value)
                step.add_(1)
            for src, dst in self.pairs:
                tensors[dst].lerp_(tensors[src], self.tau)
            for src, dst in self.buffer_pairs:
                tensors[dst].copy_(tensors[src])
        return loss, aux, norm

    def _functional_loop(self, tensors: list[torch.Tensor], exp_avgs: list[torch.Tensor],
                         exp_avg_sqs: list[torch.Tensor], steps: list[torch.Tensor], step_sizes: torch.Tensor,
                         bias_corrections2_sqrt: torch.Tensor, parts: int, args: tuple[Any, ...]
                         ) -> tuple[torch.Tensor, None, torch.Tensor | None]:
        """``parts`` steps in a row inside one ``torch.while_loop`` (traced and compiled once, however
        many steps): step k reads the k-th of ``parts`` equal slices of ``args`` and carries the
        parameters, moments and Polyak targets to step k + 1; the results are written back after the
        last one."""
        trainable, n = self.trainable, len(self.trainable)
        moving = [dst for _, dst in self.pairs]

        def more(i: torch.Tensor, *state: torch.Tensor) -> torch.Tensor:
            return i < parts

        def step(i: torch.Tensor, losses: torch.Tensor, norms: torch.Tensor, *state: torch.Tensor
                 ) -> tuple[torch.Tensor, ...]:
            params, ms, vs, targets = state[:n], state[n:2 * n], state[2 * n:3 * n], state[3 * n:]
            current = list(tensors)
            for j, t in zip([*trainable, *moving], [*params, *targets]):
                current[j] = t
            loss, _, grads, norm = self._loss_and_grads(current, _select_args(args, i, parts))
            at = i.view(1)
            updated = [self._adam(p, g, m, v, step_sizes.index_select(0, at)[0],
                                  bias_corrections2_sqrt.index_select(0, at)[0])
                       for p, g, m, v in zip(params, grads, ms, vs)]
            for j, new in zip(trainable, updated):
                current[j] = new[0]
            targets = tuple(current[dst].lerp(current[src], self.tau) for src, dst in self.pairs)
            losses = losses.index_copy(0, at, loss.view(1))
            norms = norms if norm is None else norms.index_copy(0, at, norm.view(1))
            return (i + 1, losses, norms, *(u[0] for u in updated), *(u[1] for u in updated),
                    *(u[2] for u in updated), *targets)

        device = tensors[trainable[0]].device  # loop state on the parameters' device (CUDA too)
        zeros = torch.zeros(parts, device=device)
        start = (torch.zeros((), dtype=torch.int64, device=device), zeros, zeros.clone(),
                 *(tensors[j] for j in trainable), *exp_avgs, *exp_avg_sqs, *(tensors[dst] for dst in moving))
        _, losses, norms, *state = torch.while_loop(more, step, start)
        with torch.no_grad():
            for old, new in zip([*(tensors[j] for j in trainable), *exp_avgs, *exp_avg_sqs,
                                 *(tensors[dst] for dst in moving)], state):
                old.copy_(new)
            for counter in steps:
                counter.add_(parts)
            for src, dst in self.buffer_pairs:
                tensors[dst].copy_(tensors[src])
        return losses, None, norms if self.max_grad_norm > 0 else None

    def _optimizer_state(self) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """The Adam's own state tensors (created as torch.optim.Adam creates them on its first step;
        looked up at every call, since ``load_state_dict`` replaces them)."""
        state = self.optimizer.state
        for p in self.params:
            if not state[p]:
                fused = bool(self.optimizer.param_groups[0].get("fused"))
                state[p]["step"] = torch.zeros((), dtype=torch.float32, device=p.device if fused else "cpu")
                state[p]["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state[p]["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return ([state[p]["exp_avg"] for p in self.params], [state[p]["exp_avg_sq"] for p in self.params],
                [state[p]["step"] for p in self.params])

    def _corrections(self, steps: list[torch.Tensor], parts: int) -> tuple[list[float], list[float]]:
        """``lr / (1 − β₁ᵗ)`` and ``√(1 − β₂ᵗ)`` for each of the next ``parts`` steps, in Python floats
        as ``torch.optim.Adam`` computes them (its per-parameter counters of one group move together;
        the first one is read)."""
        t0 = float(steps[0]) + 1.0
        lr = float(self.optimizer.param_groups[0]["lr"])
        return ([lr / (1.0 - self.beta1 ** (t0 + k)) for k in range(parts)],
                [math.sqrt(1.0 - self.beta2 ** (t0 + k)) for k in range(parts)])

    def _bias_corrections(self, steps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The next step's two corrections, in the two 0-d tensors every single step reads."""
        (step_size,), (bias_correction2_sqrt,) = self._corrections(steps, 1)
        self.step_size.fill_(step_size)
        self.bias_correction2_sqrt.fill_(bias_correction2_sqrt)
        return self.step_size, self.bias_correction2_sqrt

    def _bias_corrections_of(self, steps: list[torch.Tensor], parts: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``parts`` steps' corrections, as two tensors of ``parts`` entries."""
        step_sizes, bias_corrections2_sqrt = self._corrections(steps, parts)
        device = self.params[0].device
        return torch.tensor(step_sizes, device=device), torch.tensor(bias_corrections2_sqrt, device=device)

    def __call__(self, *args: Any) -> tuple[torch.Tensor, Any, torch.Tensor | None]:
        """One step on ``loss(*args)``."""
        return self._run(1, args)

    def steps(self, parts: int, *args: Any) -> tuple[torch.Tensor, Any, torch.Tensor | None]:
        """``parts`` steps in one call (a ``torch.while_loop``: one compilation however large
        ``parts`` is, and dynamo's guards and the call's wrappers paid once for all of them), step k on
        the k-th of ``parts`` equal slices (along the first dimension) of every tensor in ``args``
        (tuples and NamedTuples of tensors are sliced field by field): the same weights as ``parts``
        calls of one step each. Returns the ``parts`` losses, None for ``aux`` (not kept: the steps that
        need it, e.g. PER's priorities between batches, take one step per call) and the ``parts``
        gradient norms. Randomness the loss takes from the caller stays the same for all the steps.
        ``parts`` 1 runs the single step (its graph is in inductor's cache; a loop's is not)."""
        losses, aux, norms = self._run(parts, args)
        if parts == 1:  # the single step's results, shaped as the loop's
            return losses.view(1), None, None if norms is None else norms.view(1)
        return losses, aux, norms

    def _run(self, parts: int, args: tuple[Any, ...]) -> tuple[torch.Tensor, Any, torch.Tensor | None]:
        if self.packing is not None:  # a parameter whose storage was replaced since the last step aliases again
            self.packing.prepare_grads()
        exp_avgs, exp_avg_sqs, steps = self._optimizer_state()
        tensors = [t.detach() for t in self.tensors]  # same storage: updates land in the modules
        if parts == 1:
            call = functools.partial(self._step, tensors, exp_avgs, exp_avg_sqs, steps, *self._bias_corrections(steps))
        else:
            call = functools.partial(self._loop, tensors, exp_avgs, exp_avg_sqs, steps,
                                     *self._bias_corrections_of(steps, parts), parts)
        try:
            return call(args)
        except Exception as err:  # noqa: BLE001  torch.compile's failures have no common public type
            if parts > 1 and self.loop_wrapper == "c++":  # then the loop with inductor's Python wrapper
                logger.warning("runtime.compiled_update: %s's loop failed to build its C++ wrapper (%s); "
                               "using the Python one", self.name, _first_line(err))
                self._loop, self.loop_wrapper = torch.compile(self._functional_loop), "python"
                return self._run(parts, args)
            if not self.compiled:
                raise
            logger.warning("runtime.compiled_update: %s failed to compile (%s); running it uncompiled",
                           self.name, _first_line(err))
            self._step, self._loop, self.compiled = self._functional_step, self._functional_loop, False
            self.loop_wrapper = None
            return self._run(parts, args)


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


def _select_args(args: Any, k: torch.Tensor, parts: int) -> Any:
    """The k-th (a 0-d tensor) of ``parts`` equal slices along the first dimension of every tensor in
    ``args`` (tuples and NamedTuples of tensors field by field; anything else as is)."""
    if isinstance(args, torch.Tensor):
        return torch.index_select(args.view(parts, -1, *args.shape[1:]), 0, k.view(1))[0]
    if isinstance(args, tuple):
        selected = [_select_args(a, k, parts) for a in args]
        return type(args)(*selected) if hasattr(args, "_fields") else tuple(selected)
    return args


def compile_by_default(setting: bool | None, planned_steps: int, pays_after: int | None, device: torch.device,
                       build: Callable[[], CompiledUpdate | None]) -> CompiledUpdate | None:
    """``runtime.compiled_update`` left at its default (None): ``build()`` the compiled step of a CPU run
    that plans at least ``pays_after`` gradient steps — the agent's measured point where the time
    compilation takes is repaid by the time each compiled step saves (None: never) — and log one line
    when it did; None otherwise. An explicit true/false is the user's choice, applied where the agent
    is built."""
    if not (setting is None and pays_after is not None and device.type == "cpu" and planned_steps >= pays_after):
        return None
    step = build()
    if step is not None:
        logger.info("runtime.compiled_update: compiling the update (the budget plans %d gradient steps, "
                    "compilation pays from %d; runtime.compiled_update=false keeps it eager)",
                    planned_steps, pays_after)
    return step


def compiled_update(enabled: bool | None, loss: LossFn, networks: dict[str, nn.Module],
                    optimizer: torch.optim.Optimizer, *, unsupported: str | None = None,
                    device: torch.device | None = None, quiet: bool = False,
                    **kwargs: Any) -> CompiledUpdate | None:
    """A :class:`CompiledUpdate`, or None when ``enabled`` is off or it cannot apply here (then one
    line says why — ``unsupported`` is the caller's reason, if any — and the caller runs eager;
    ``quiet``: at debug level, for the automatic choice nobody asked for)."""
    if not enabled:
        return None
    first = next(iter(optimizer.param_groups[0]["params"]))
    reason = unsupported or unsupported_optimizer(optimizer) or compiler_missing(device or first.device)
    if reason:
        logger.log(logging.DEBUG if quiet else logging.WARNING, "runtime.compiled_update: %s; the %s runs eager",
                   reason, kwargs.get("name", "update"))
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CompiledUpdate(loss, networks, optimizer, **kwargs)


__all__ = ["CompiledUpdate", "LossFn", "compile_by_default", "compiled_update", "compiler_missing",
           "unsupported_optimizer"]
