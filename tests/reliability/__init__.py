"""The fault, attack and privacy suite: the project attacked the way the real world will."""
