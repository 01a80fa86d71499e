"""rollbook: enrollment and access service."""

__version__ = "0.1.0"
