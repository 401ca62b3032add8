"""The payment service: charges orders from its SQS queue, answers the workflow's task token, refunds."""
