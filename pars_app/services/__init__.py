"""Services: the only code that commits. Views, the CLI and jobs all call these."""
