"""Tooling around the app: generators of the files derived from one source, and operator CLIs."""
