"""Lambda event source mappings (SQS, DynamoDB streams) and DynamoDB TTL, polled as AWS polls them."""
