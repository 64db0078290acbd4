"""Meta-RL task distributions as env plugins (registered in pyproject's ``rlsuite.envs`` group).

``env=bandits/k5-n100`` (k arms, n pulls per trial), ``env=tabular_mdp`` (or
``tabular_mdp/s10-a5-h10``), ``env=navigation2d`` (``env.kwargs.oracle=true`` for the oracle),
``env=halfcheetah_vel`` and ``env=halfcheetah_dir`` (MuJoCo; ``/h200`` for the paper's horizon),
``env=metaworld_ml1`` (Meta-World ML1, the metaworld extra: ``metaworld_ml1/push-v3-h150``).
Each plugin builds a one-task Gymnasium env (:class:`rlsuite.meta.tasks.TaskEnv`) for ordinary
agents and the CLI, and exposes :meth:`distribution` for meta-learners, which step the batched
:class:`rlsuite.meta.tasks.VecTaskEnv` directly.
"""

from __future__ import annotations

import re
from typing import Any

from rlsuite.envs.meta.bandits import BernoulliBandits
from rlsuite.envs.meta.halfcheetah import HalfCheetahDir, HalfCheetahVel
from rlsuite.envs.meta.metaworld_ml1 import MetaWorldML1
from rlsuite.envs.meta.navigation import Navigation2D
from rlsuite.envs.meta.tabular_mdp import RandomMDPs

from rlsuite.env_plugin import EnvPlugin
from rlsuite.errors import ConfigError
from rlsuite.meta.tasks import TaskDistribution, TaskEnv

__all__ = ["BanditsPlugin", "BernoulliBandits", "HalfCheetahDir", "HalfCheetahDirPlugin", "HalfCheetahVel",
           "HalfCheetahVelPlugin", "MetaEnvPlugin", "MetaWorldML1", "MetaWorldML1Plugin", "Navigation2D",
           "Navigation2DPlugin", "RandomMDPs", "TabularMDPPlugin"]


class MetaEnvPlugin(EnvPlugin):
    """A task distribution addressed by ``<family>`` or ``<family>/<variant>``; the variant's
    numbers become constructor arguments (``k5-n100`` → ``k=5, n=100``; a non-numeric group, such as
    Meta-World's env name, stays a string; a group left out is not passed)."""

    family: str = ""
    pattern: re.Pattern[str] = re.compile("")
    example: str = ""
    provider = "rlsuite"
    builds: type[TaskDistribution]  # the distribution class; the variant's numbers are its arguments

    def distribution(self, id: str | None, **kwargs: Any) -> TaskDistribution:
        args: dict[str, Any] = {}
        if id and id != self.family:
            match = self.pattern.fullmatch(id)
            if match is None:
                accepted = f"{self.family} or e.g. {self.example}"
                raise ConfigError(f"unknown {self.family} variant '{id}'; accepted: {accepted}")
            args = {key: int(value) if value.isdigit() else value
                    for key, value in match.groupdict().items() if value is not None}
        try:
            return self.builds(**{**args, **kwargs})
        except TypeError as err:
            raise ConfigError(f"cannot build {self.family} with {kwargs}: {err}") from err

    def make(self, id: str | None, *, training: bool = True, render_mode: str | None = None,
             **kwargs: Any) -> TaskEnv:
        return TaskEnv(self.distribution(id, **kwargs))

    def ids(self) -> list[str]:
        return [self.example]

    def handles(self, id: str) -> bool:
        return self.pattern.fullmatch(id) is not None


class BanditsPlugin(MetaEnvPlugin):
    description = "Bernoulli bandits, p ~ U[0,1] per arm, n pulls per trial (RL² table 1): bandits/k5-n100"
    family = "bandits"
    pattern = re.compile(r"bandits/k(?P<k>\d+)-n(?P<n>\d+)")
    example = "bandits/k5-n10"
    builds = BernoulliBandits


class TabularMDPPlugin(MetaEnvPlugin):
    description = "Random tabular MDPs, N(1,1) mean rewards, Dirichlet(1) transitions (RL² table 2)"
    family = "tabular_mdp"
    pattern = re.compile(r"tabular_mdp/s(?P<n_states>\d+)-a(?P<n_actions>\d+)-h(?P<horizon>\d+)")
    example = "tabular_mdp/s10-a5-h10"
    builds = RandomMDPs


class Navigation2DPlugin(MetaEnvPlugin):
    description = "2D point navigation to a random goal in [-0.5,0.5]^2, horizon 100 (MAML section 5.3)"
    family = "navigation2d"
    pattern = re.compile(r"navigation2d/h(?P<horizon>\d+)")
    example = "navigation2d/h100"
    builds = Navigation2D


class HalfCheetahVelPlugin(MetaEnvPlugin):
    description = "HalfCheetah-v5 goal velocity v ~ U[0, 2], horizon 100 as pytorch-maml-rl (MAML section 5.3)"
    family = "halfcheetah_vel"
    pattern = re.compile(r"halfcheetah_vel/h(?P<horizon>\d+)")
    example = "halfcheetah_vel/h100"
    builds = HalfCheetahVel


class HalfCheetahDirPlugin(MetaEnvPlugin):
    description = "HalfCheetah-v5 goal direction (forward or backward), horizon 100 as pytorch-maml-rl"
    family = "halfcheetah_dir"
    pattern = re.compile(r"halfcheetah_dir/h(?P<horizon>\d+)")
    example = "halfcheetah_dir/h100"
    builds = HalfCheetahDir


class MetaWorldML1Plugin(MetaEnvPlugin):
    description = ("Meta-World ML1 (metaworld extra): one manipulation env, 50 train / 50 test goals, "
                   "horizon 500: metaworld_ml1/reach-v3-h150")
    family = "metaworld_ml1"
    # metaworld_ml1/h150, metaworld_ml1/push-v3, metaworld_ml1/push-v3-h150
    pattern = re.compile(r"metaworld_ml1/(?=.)(?:(?P<env_name>[a-z][a-z0-9-]*-v\d+)(?=-h|$)-?)?(?:h(?P<horizon>\d+))?")
    example = "metaworld_ml1/reach-v3-h150"
    builds = MetaWorldML1
