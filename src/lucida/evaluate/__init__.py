"""Evaluation: reference datasets, caption and retrieval metrics, and the study that compares models."""
