"""Built-in agents (installed as rlsuite.agents)."""
