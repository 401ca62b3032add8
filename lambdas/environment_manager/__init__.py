"""Trial environments: creates warm CloudFormation stacks and deletes those of expired or failed trials."""
