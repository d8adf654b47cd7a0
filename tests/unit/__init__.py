"""Tests of the core library, one folder per package."""
