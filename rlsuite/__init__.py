"""rlsuite: classic RL agents."""
