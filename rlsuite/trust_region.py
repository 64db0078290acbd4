"""The trust-region step of TRPO (Schulman et al. 2015), shared by ``agents/trpo.py`` and the
outer loop of ``agents/maml.py``.

Given a closure for (surrogate, mean KL) over a list of parameters: the natural-gradient direction
by conjugate gradient on Hessian(KL)-vector products (the Fisher matrix at θ_old), the step scaled
to the KL radius δ (θ ← θ + sqrt(2δ / sᵀHs) s), then a backtracking line search that keeps a step
only if the KL bound holds and the surrogate improves. A closure (rather than a policy) lets MAML
re-run the inner adaptation at every trial point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

# objective(differentiable) -> (surrogate to maximize, mean KL(old || new)); differentiable=False
# is how the line search calls it (values only, no second-order graph needed).
Objective = Callable[[bool], tuple[torch.Tensor, torch.Tensor]]
# v -> H v for the trust region's metric H (flat vectors over all parameters), when the caller has
# a cheaper exact form of it than differentiating the KL's gradient (MAML's Jᵀ F J).
MetricProduct = Callable[[torch.Tensor], torch.Tensor]


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int,
                       residual_tol: float = 1e-10) -> torch.Tensor:
    """Approximately solve ``A x = b`` for symmetric positive-definite ``A`` given only ``x ↦ A x``."""
    x = torch.zeros_like(b)
    r = b.clone()  # residual b − A x with x = 0
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        Ap = matvec(p)
        alpha = rr / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = r @ r
        if rr_new < residual_tol:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def flat_grad(output: torch.Tensor, params: Sequence[torch.Tensor], **kwargs: Any) -> torch.Tensor:
    grads = torch.autograd.grad(output, params, **kwargs)
    return torch.cat([g.reshape(-1) for g in grads])


def trust_region_step(
    params: Sequence[torch.Tensor],
    objective: Objective,
    *,
    max_kl: float,
    cg_iters: int = 10,
    cg_damping: float = 1e-5,
    line_search_steps: int = 15,
    line_search_shrink: float = 0.8,
    metric_kl: Callable[[], torch.Tensor] | None = None,
    metric_product: MetricProduct | None = None,
) -> dict[str, float | torch.Tensor]:
    """Update ``params`` in place; returns the accepted step's KL, improvement and fraction, and as
    tensors (for the agent's non-finite guard) the surrogate at θ_old and the quadratic form sᵀHs.
    ``metric_kl``: a cheaper KL whose Hessian at θ_old stands in for the objective's own as the
    metric of the step (the line search still checks the objective's KL).
    ``metric_product``: v ↦ H v given directly (then neither KL is differentiated for the metric)."""
    surrogate, kl = objective(True)
    g = flat_grad(surrogate, params, retain_graph=True)
    if metric_product is None:
        grad_kl = flat_grad(kl if metric_kl is None else metric_kl(), params, create_graph=True)

        def kl_hessian_product(v: torch.Tensor) -> torch.Tensor:
            return flat_grad(grad_kl @ v, params, retain_graph=True)

        metric_product = kl_hessian_product

    def hessian_vector_product(v: torch.Tensor) -> torch.Tensor:
        return metric_product(v) + cg_damping * v

    direction = conjugate_gradient(hessian_vector_product, g, cg_iters)
    shs = direction @ hessian_vector_product(direction)
    checked = {"surrogate": surrogate.detach(), "quadratic form": shs.detach()}
    full_step = torch.sqrt(2 * max_kl / shs.clamp(min=1e-12)) * direction
    old_params = parameters_to_vector(params).detach()
    old_surrogate = surrogate.item()
    for j in range(line_search_steps):
        fraction = line_search_shrink**j
        with torch.no_grad():
            vector_to_parameters(old_params + fraction * full_step, params)
        new_surrogate, new_kl = objective(False)
        if new_kl.item() <= max_kl and new_surrogate.item() > old_surrogate:
            return {"kl": new_kl.item(), "improvement": new_surrogate.item() - old_surrogate,
                    "step_fraction": fraction, "accepted": 1.0, "grad_norm": g.norm().item(), **checked}
    with torch.no_grad():
        vector_to_parameters(old_params, params)  # nothing acceptable: keep the old parameters
    return {"kl": 0.0, "improvement": 0.0, "step_fraction": 0.0, "accepted": 0.0, "grad_norm": g.norm().item(),
            **checked}
