"""Human and random reference scores for the 57 Atari games, and human-normalized scores.

Values are the standard table used since Mnih et al. 2015 (Nature DQN) and completed for the
57-game suite by later papers (Badia et al. 2020, "Agent57"); the same numbers are in
google/dopamine ``dopamine/labs/atari_100k/normalization_utils.py`` and rliable.

Human-normalized score = (agent − random) / (human − random): 0 is random play, 1 is human level.
"""

from __future__ import annotations

import re

from rlsuite.errors import unknown

__all__ = ["HUMAN_RANDOM", "canonical_game", "human_normalized", "is_atari"]

#: game -> (random score, human score)
HUMAN_RANDOM: dict[str, tuple[float, float]] = {
    "Alien": (227.8, 7127.7),
    "Amidar": (5.8, 1719.5),
    "Assault": (222.4, 742.0),
    "Asterix": (210.0, 8503.3),
    "Asteroids": (719.1, 47388.7),
    "Atlantis": (12850.0, 29028.1),
    "BankHeist": (14.2, 753.1),
    "BattleZone": (2360.0, 37187.5),
    "BeamRider": (363.9, 16926.5),
    "Berzerk": (123.7, 2630.4),
    "Bowling": (23.1, 160.7),
    "Boxing": (0.1, 12.1),
    "Breakout": (1.7, 30.5),
    "Centipede": (2090.9, 12017.0),
    "ChopperCommand": (811.0, 7387.8),
    "CrazyClimber": (10780.5, 35829.4),
    "Defender": (2874.5, 18688.9),
    "DemonAttack": (152.1, 1971.0),
    "DoubleDunk": (-18.6, -16.4),
    "Enduro": (0.0, 860.5),
    "FishingDerby": (-91.7, -38.7),
    "Freeway": (0.0, 29.6),
    "Frostbite": (65.2, 4334.7),
    "Gopher": (257.6, 2412.5),
    "Gravitar": (173.0, 3351.4),
    "Hero": (1027.0, 30826.4),
    "IceHockey": (-11.2, 0.9),
    "Jamesbond": (29.0, 302.8),
    "Kangaroo": (52.0, 3035.0),
    "Krull": (1598.0, 2665.5),
    "KungFuMaster": (258.5, 22736.3),
    "MontezumaRevenge": (0.0, 4753.3),
    "MsPacman": (307.3, 6951.6),
    "NameThisGame": (2292.3, 8049.0),
    "Phoenix": (761.4, 7242.6),
    "Pitfall": (-229.4, 6463.7),
    "Pong": (-20.7, 14.6),
    "PrivateEye": (24.9, 69571.3),
    "Qbert": (163.9, 13455.0),
    "Riverraid": (1338.5, 17118.0),
    "RoadRunner": (11.5, 7845.0),
    "Robotank": (2.2, 11.9),
    "Seaquest": (68.4, 42054.7),
    "Skiing": (-17098.1, -4336.9),
    "Solaris": (1236.3, 12326.7),
    "SpaceInvaders": (148.0, 1668.7),
    "StarGunner": (664.0, 10250.0),
    "Surround": (-10.0, 6.5),
    "Tennis": (-23.8, -8.3),
    "TimePilot": (3568.0, 5229.2),
    "Tutankham": (11.4, 167.6),
    "UpNDown": (533.4, 11693.2),
    "Venture": (0.0, 1187.5),
    "VideoPinball": (0.0, 17667.9),
    "WizardOfWor": (563.5, 4756.5),
    "YarsRevenge": (3092.9, 54576.9),
    "Zaxxon": (32.5, 9173.3),
}

_BY_KEY = {name.lower(): name for name in HUMAN_RANDOM}
# Spellings seen in the wild besides the ALE ROM names.
_ALIASES = {"montezumasrevenge": "MontezumaRevenge", "jamesbond007": "Jamesbond", "upanddown": "UpNDown"}
_SUFFIX = re.compile(r"(noframeskip|deterministic)?(-v\d+)?$", re.IGNORECASE)


def canonical_game(env_id: str) -> str | None:
    """Map ``"Pong"``, ``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``, ``"Pong-ram-v5"`` to ``"Pong"``.

    Returns ``None`` when the id is not one of the 57 games.
    """
    s = env_id.strip()
    s = s.rsplit("/", 1)[-1]  # "ALE/Pong-v5" -> "Pong-v5"
    s = re.sub(r"-ram(?=-v\d+$|NoFrameskip|Deterministic|$)", "", s, flags=re.IGNORECASE)
    s = _SUFFIX.sub("", s)
    key = re.sub(r"[^a-z0-9]", "", s.lower())
    return _BY_KEY.get(key) or _ALIASES.get(key)


def is_atari(env_id: str) -> bool:
    """True when ``env_id`` names one of the 57 Atari games with a human/random reference."""
    return canonical_game(env_id) is not None


def human_normalized(game: str, score: float) -> float:
    """Human-normalized score ``(score − random) / (human − random)`` for an Atari game.

    ``game`` may be ``"Pong"``, ``"ALE/Pong-v5"`` or ``"PongNoFrameskip-v4"``; an unknown game raises
    :class:`rlsuite.errors.UnknownNameError` listing close matches.
    """
    name = canonical_game(game)
    if name is None:
        raise unknown("Atari game (for human-normalized scores)", game, HUMAN_RANDOM)
    rnd, human = HUMAN_RANDOM[name]
    return (float(score) - rnd) / (human - rnd)
