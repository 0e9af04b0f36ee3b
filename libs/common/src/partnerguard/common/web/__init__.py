"""HTTP pieces every service shares: dependencies, middleware, health and metrics routes."""
