"""Tests of the component package's provider: its inputs, its server and its schema."""
