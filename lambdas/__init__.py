"""The app's Lambda code: one folder per service, shared/ for contracts and helpers."""
