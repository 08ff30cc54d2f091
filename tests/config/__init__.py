"""Tests of canary/config/: the stack files read, validated and documented."""
