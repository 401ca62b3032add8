"""Lambda: execution environments as worker processes, invocation, async retries and destinations."""
