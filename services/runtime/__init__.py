"""Shared runtime of every worker: settings, Kafka, Postgres, metrics, CLI, local stack."""
