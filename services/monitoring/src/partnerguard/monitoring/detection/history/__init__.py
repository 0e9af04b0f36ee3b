"""What the usage detectors read of a customer's past: spend series, footprints, earlier alerts."""
