"""API Gateway REST APIs: the invoke URL, request validation, authorization and Lambda proxy integrations."""
