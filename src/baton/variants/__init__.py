"""Lightweight variants and chip-ready builds of models: made, checked and measured by the commons."""
