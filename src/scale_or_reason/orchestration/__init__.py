"""Orchestration: running a study's units here or on Slurm, the study lock, preflight checks and
the dry-run estimates."""
