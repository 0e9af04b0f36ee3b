"""Cases: investigations with a timeline, and the one-time compromise credit request."""
