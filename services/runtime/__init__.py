"""Shared runtime of every worker: settings, Kafka, Postgres, metrics, the CLI and the local stack."""
