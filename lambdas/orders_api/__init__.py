"""The order intake API: POST /orders stores an order and publishes OrderPlaced; GET /orders/{id} reads it."""
