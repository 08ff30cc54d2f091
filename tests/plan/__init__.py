"""Tests of canary/plan/: the objects each plan writes, through the Args and through the stack file."""
