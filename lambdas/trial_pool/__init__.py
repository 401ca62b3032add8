"""The warm-environment pool: the assignment workflow claims one environment per trial."""
