"""Tests of canary/traffic/: the load engine, the split tests and the route checks behind verify."""
