"""ctys.guest."""
