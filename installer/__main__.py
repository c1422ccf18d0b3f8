"""``python -m installer`` is ``dinoair-install``."""

from .cli import main

main()
