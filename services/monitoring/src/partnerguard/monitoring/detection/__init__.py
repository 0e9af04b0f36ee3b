"""Detection: the partner's detector settings and the detectors over usage aggregates."""
