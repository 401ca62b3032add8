"""The order sweeper: orders stuck past their deadline in a non-final state go to NEEDS_ATTENTION."""
