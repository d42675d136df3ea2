"""Shared plumbing every stage uses: config, errors, hashing, column names, workspace, executors, progress,
plotting and the plug-in registries. Nothing here imports a stage or a model."""
