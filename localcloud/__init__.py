"""localcloud: a docker-free local AWS built on moto that deploys the synthesized CDK app."""
