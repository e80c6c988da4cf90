"""Fairness: per-group metrics (Fairlearn), proxies, shortcuts and leaks, mitigation."""
