"""The worker kernel: the loop, handlers and their hooks, envelopes, Kafka and PostgreSQL
plumbing, settings, metrics and ops endpoints. It imports no worker."""
