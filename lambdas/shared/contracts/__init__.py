"""Event contracts: one pydantic model per DetailType, shared by producers and consumers."""
