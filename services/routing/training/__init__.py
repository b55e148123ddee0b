"""The labelled sets written for the shipped taxonomy and the default model trained on them."""
