"""Lixi kernel: the app factory, configuration, extensions and shared models every domain stands on."""
