"""SQS operations moto does not have."""
