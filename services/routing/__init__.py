"""Routing: turn a registered complaint into a decision someone is accountable for."""
