"""ctys.address."""
