"""eventlint: find and fix exposed raw queues, mixed-type channels and untimed blocking handlers."""

__version__ = "0.1.0"
