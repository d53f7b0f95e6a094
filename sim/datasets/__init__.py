"""Synthetic datasets for tests and the demo (docs/yolo.md#datasets); nothing here downloads anything."""
