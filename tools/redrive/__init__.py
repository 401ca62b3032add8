"""Redrive: list the app's dead-letter queues and return what is parked in them (`make redrive`)."""
