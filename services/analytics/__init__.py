"""Analytics: the complaint archive (current state + full history) and rolling aggregates."""
