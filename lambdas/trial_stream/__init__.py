"""The trials table stream: INSERT and TTL-expiry records become `TrialRequested` / `TrialExpired` events."""
