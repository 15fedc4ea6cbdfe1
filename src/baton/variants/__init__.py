"""Lightweight variants and chip-ready builds: making them, checking they load, and the runtimes that run them."""
