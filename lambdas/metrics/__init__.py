"""Business metrics: every event of the app becomes an EMF count; the only place such metrics are emitted."""
