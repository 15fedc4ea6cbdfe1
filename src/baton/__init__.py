"""Baton: staged AI foundation-model challenges and the commons hub their work lands in."""

__version__ = "0.1.0"
