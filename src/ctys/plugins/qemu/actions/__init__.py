"""ctys.actions."""
