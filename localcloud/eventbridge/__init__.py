"""EventBridge emulation for localcloud: event-pattern matching and target input rendering."""
