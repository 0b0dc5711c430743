"""Data: datasets and their labels, image files, captures and their curation, CSV output."""
