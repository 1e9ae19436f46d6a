"""careloop: care coordination for US primary care."""

__version__ = "0.1.0"
