"""Dunning: the partner's policy, the sweep that applies it and the notices it sends."""
