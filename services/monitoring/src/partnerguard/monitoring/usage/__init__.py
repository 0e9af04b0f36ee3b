"""Usage: rated usage records in at volume (HTTP batches and the USAGE stream), de-duplicated
and aggregated by hour and day; daily spend published for billing."""
