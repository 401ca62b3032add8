"""One construct per capability: each owns its resources and the failure paths that protect them."""
