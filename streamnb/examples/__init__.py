"""Runnable examples: ``python -m streamnb.examples.wordcount``."""
