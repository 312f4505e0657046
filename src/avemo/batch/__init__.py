"""Batch runs over whole archives: folders and manifests in, a resumable results table out."""
