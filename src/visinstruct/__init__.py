"""visinstruct: a data engine for visual instruction-tuning data."""

__version__ = "0.1.0"
