"""Reports on asv's results: the frameworks page, the terminal summary and the regression check."""
