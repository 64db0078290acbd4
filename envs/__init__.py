"""Built-in environment plugins (installed as rlsuite.envs)."""
