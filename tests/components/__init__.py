"""Tests of canary/components/: the Pulumi components, composed and used directly."""
