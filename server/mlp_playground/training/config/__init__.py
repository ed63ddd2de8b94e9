"""The training configuration: defaults and limits, value checks, merging partial bodies, validation."""
