"""Deploys a synthesized cloud assembly (cdk.out) through the service APIs."""
