"""The classroom: classes, rosters and thumbnails (docs/design.md, "The classroom")."""
