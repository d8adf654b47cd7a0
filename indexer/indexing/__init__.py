"""The indexing run: its stages (scan, prepare, embed, write), its report and the engines that
execute it."""
