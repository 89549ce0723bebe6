"""Pure rules and models of Partnerflow: no I/O, safe inside the workflow sandbox."""
