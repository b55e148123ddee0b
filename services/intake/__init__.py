"""Intake: validate, de-duplicate, normalise and protect raw call-center events."""
