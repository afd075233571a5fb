"""One module per watcher type."""
