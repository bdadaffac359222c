"""ctys.consoles."""
