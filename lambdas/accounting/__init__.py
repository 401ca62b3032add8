"""The accounting service: one ledger entry per completed (sale) or refunded (refund) order."""
