"""Tests of the brand dashboard."""
