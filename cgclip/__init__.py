"""cgclip."""
