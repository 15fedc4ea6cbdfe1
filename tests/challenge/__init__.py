"""Tests of the challenge domain."""
