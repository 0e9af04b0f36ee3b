"""Payment instruments: registration, BIN classification and the partner's refusal policy."""
