"""Text front end: normalisation, language segmentation, chunking and G2P."""
