"""The trials table stream: INSERT, the move to NEEDS_ATTENTION and TTL expiry become `TrialRequested` /
`TrialNeedsAttention` / `TrialExpired` events."""
