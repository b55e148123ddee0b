"""The early-warning detector: spikes, collective complaints at one place, emerging themes."""
