"""Per-partner allow and block lists: entries kept over HTTP, looked up by the scorer."""
