"""The order-status service: pushes each OrderStatusChanged to the order's IoT Core topic."""
