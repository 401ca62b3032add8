"""Code shared by the app's functions: event contracts and small AWS adapters."""
