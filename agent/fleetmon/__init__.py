"""fleetmon: fleet monitoring for NVIDIA Jetson devices and Linux servers."""

__version__ = "0.1.0"
