"""ComplaintFlow topic schemas: one pydantic v2 module per topic plus the topic registry."""
