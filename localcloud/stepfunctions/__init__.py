"""Step Functions: moto's ASL interpreter, mended, timed as AWS times it, and made cheap to run."""
