"""Glue between TrackZoo and outside evaluation toolkits (external/vot: the VOT toolkit)."""
