"""What an evaluation run prints and writes: the plain-text table, the HTML report, example
queries."""
