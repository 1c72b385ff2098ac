"""The plan: every name, address and command a topology turns into (deterministic, no side
effects), and its rendering for `lab up --dry-run`."""
