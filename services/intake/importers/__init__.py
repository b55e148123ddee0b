"""Turning exports of other complaint systems into raw events (pure, row by row)."""
