"""One TRPO step on a list of parameters given a closure for (surrogate, mean KL): natural-gradient
direction by conjugate gradient on Hessian(KL)-vector products, step scaled to the KL radius, then
a backtracking line search that keeps the step only if the KL bound holds and the surrogate improves.

``agents/trpo.py`` has the same step as a method bound to its policy; MAML needs it over a
closure that re-runs the inner adaptation at every trial point, so the step is a function here
(reusing TRPO's conjugate gradient and flat gradient). The two should become one later.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from rlsuite.agents.trpo import conjugate_gradient, flat_grad

# objective(differentiable) -> (surrogate to maximize, mean KL(old || new)); differentiable=False
# is how the line search calls it (values only, no second-order graph needed).
Objective = Callable[[bool], tuple[torch.Tensor, torch.Tensor]]


def trust_region_step(
    params: list[torch.Tensor],
    objective: Objective,
    *,
    max_kl: float,
    cg_iters: int = 10,
    cg_damping: float = 1e-5,
    line_search_steps: int = 15,
    line_search_shrink: float = 0.8,
) -> dict[str, float]:
    """Update ``params`` in place; returns the accepted step's KL, improvement and fraction."""
    surrogate, kl = objective(True)
    g = flat_grad(surrogate, params, retain_graph=True)
    grad_kl = flat_grad(kl, params, create_graph=True)

    def hessian_vector_product(v: torch.Tensor) -> torch.Tensor:
        return flat_grad(grad_kl @ v, params, retain_graph=True) + cg_damping * v

    direction = conjugate_gradient(hessian_vector_product, g, cg_iters)
    shs = direction @ hessian_vector_product(direction)
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
                    "step_fraction": fraction, "accepted": 1.0, "grad_norm": g.norm().item()}
    with torch.no_grad():
        vector_to_parameters(old_params, params)  # nothing acceptable: keep the old parameters
    return {"kl": 0.0, "improvement": 0.0, "step_fraction": 0.0, "accepted": 0.0, "grad_norm": g.norm().item()}
