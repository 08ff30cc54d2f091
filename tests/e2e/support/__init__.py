"""What the e2e tests share that only the e2e tier needs: the live objects and the rollout's set-up."""
