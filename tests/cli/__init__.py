"""Tests of the commands (render, rollout, verify, traffic): flags, output and exit status."""
