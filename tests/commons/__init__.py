"""Tests of the commons domain."""
