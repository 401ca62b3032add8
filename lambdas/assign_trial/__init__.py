"""AssignTrial: a `TrialRequested` event starts the assignment state machine, once per trial."""
