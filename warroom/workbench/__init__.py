"""The response workbench: runbooks and their executors, change correlation, mitigation
suggestions, hotfix quality gates and post-mitigation verification."""
