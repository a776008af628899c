"""Workspace-level analyses built on codes and labels: feature families, comparing SAEs,
trends over time and category. Sits after :mod:`disentangle.pipeline` in the flow."""
