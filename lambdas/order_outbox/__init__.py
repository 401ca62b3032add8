"""The orders table's outbox: its stream records become the order events on the bus."""
