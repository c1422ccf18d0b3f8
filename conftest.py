"""Root conftest: puts the repository on sys.path so tests can import fixtures/."""
