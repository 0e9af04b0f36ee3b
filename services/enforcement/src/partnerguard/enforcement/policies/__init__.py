"""Policies: the partner's rules from events to actions, versioned and replayable."""
