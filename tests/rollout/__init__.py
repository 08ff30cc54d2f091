"""Tests of canary/rollout/: the engine, its gates, the analysis and what the release keeps."""
