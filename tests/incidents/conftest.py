"""Seed tests drive a runtime built from a preset (the workbench's `bench` fixture)."""

from tests.workbench.conftest import bench

__all__ = ["bench"]
