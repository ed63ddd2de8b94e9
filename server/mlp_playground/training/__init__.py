"""The trainer and its parts: data, loop, reconfiguration, instruments, predictor."""
