"""The control plane: destinations, export requests, run windows, the scheduler and the activity log."""
