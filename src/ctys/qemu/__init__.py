"""QEMU core: detection, argv building, QMP, runtime records and processes."""
