"""hafab: build and prove a highly available web cluster with Salt-style states over SSH."""

__version__ = "0.1.0"
