"""Cross-process state on one shared store: the rotated-token write-ahead, rate limits and
outcome counters (`store` decides where they live)."""
