"""Command-line entry points (``tools/*.py`` and the ``ppix2pix-*`` console scripts call these ``main``s)."""
