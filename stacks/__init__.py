"""The CDK stacks of the app; constructs/ holds one construct per capability."""
