"""ctys.cli."""
