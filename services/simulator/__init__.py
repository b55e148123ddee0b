"""A simulated call-center feed: deterministic, bilingual, with follow-ups and bad input."""
