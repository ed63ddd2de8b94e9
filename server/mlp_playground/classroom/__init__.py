"""The classroom: classes, rosters and thumbnails (DESIGN.md section 9)."""
