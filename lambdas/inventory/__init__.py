"""The inventory service: reserves and releases an order's stock, atomically and idempotently."""
