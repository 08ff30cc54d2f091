"""Tests of canary/router/: where each request goes by the routing object, and Istio as the judge."""
